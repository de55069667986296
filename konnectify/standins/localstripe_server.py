"""Run localstripe (a stateful Stripe fake) on 127.0.0.1.

localstripe binds every interface when started its own way; we run its aiohttp
app ourselves on loopback. It also lacks ``GET /v1/account``, which Stripe
always has and which the product uses to validate a key, so we add that one
route answering as Stripe does (an account object). Everything else is
localstripe as published.

    python -m konnectify.standins.localstripe_server --port 8420
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web
from localstripe.server import app

ACCOUNT = {
    "id": "acct_localstripe",
    "object": "account",
    "business_profile": {"name": "localstripe"},
    "settings": {"dashboard": {"display_name": "localstripe"}},
    "charges_enabled": True,
    "country": "US",
    "default_currency": "usd",
    "email": "owner@localstripe.test",
    "type": "standard",
}
# Set by the slow-call control below: seconds to wait before answering a path prefix.
DELAYS: dict[str, float] = {}


async def account(request: web.Request) -> web.Response:
    return web.json_response(ACCOUNT)


async def set_delay(request: web.Request) -> web.Response:
    """``POST /_config/delay`` with ``path`` and ``seconds``: make matching calls slow (tests)."""
    data = await request.post()
    DELAYS[str(data["path"])] = float(data["seconds"])
    return web.Response()


@web.middleware
async def slow_calls(request: web.Request, handler):
    for prefix, seconds in DELAYS.items():
        if seconds and request.path.startswith(prefix):
            await asyncio.sleep(seconds)
    return await handler(request)


@web.middleware
async def idempotency(request: web.Request, handler):
    """Replay the first response to a POST for the same Idempotency-Key, as Stripe does."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    stored = IDEMPOTENT.get(key)
    if stored is None:
        stored = IDEMPOTENT[key] = asyncio.ensure_future(_answer(handler, request))
    status, body, content_type = await stored
    return web.Response(status=status, body=body, content_type=content_type)


async def _answer(handler, request: web.Request) -> tuple[int, bytes, str]:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    return response.status, response.body, response.content_type


IDEMPOTENT: dict[str, asyncio.Future] = {}

app.router.add_get("/v1/account", account)
app.router.add_post("/_config/delay", set_delay)
app.middlewares.append(slow_calls)
app.middlewares.append(idempotency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=logging.getLogger("aiohttp"))


if __name__ == "__main__":
    main()
