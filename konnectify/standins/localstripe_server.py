"""Run localstripe (a stateful Stripe fake) on 127.0.0.1.

localstripe binds every interface when started its own way; we run its aiohttp
app ourselves on loopback. It also lacks ``GET /v1/account``, which Stripe
always has and which the product uses to validate a key, so we add that one
route answering as Stripe does (an account object). Everything else is
localstripe as published.

For tests and the demo it also offers:

- ``--state-file PATH``: keep the objects in PATH (loaded at start, written on
  every change) instead of localstripe's one shared ``/tmp/localstripe.pickle``,
  so several stand-ins never overwrite each other and a restarted one keeps
  its customers (as Stripe does after an outage);
- ``GET /_config/requests``: the API requests received so far (method, path,
  Idempotency-Key), in arrival order, recorded before any delay;
- ``GET /_config/deliveries``: each webhook delivery exactly as sent (url,
  headers, body) with the status it got, so a test can re-send one byte for byte;
- ``GET /_config/pending``: how many deliveries are still to be sent;
- ``DELETE /_config/webhooks/<name>``: unregister a webhook URL.

    python -m konnectify.standins.localstripe_server --port 8420
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import pickle
from pathlib import Path

import aiohttp
from aiohttp import web
from localstripe import resources, webhooks
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

# What tests inspect: API requests as they arrive, webhook deliveries as sent.
REQUESTS: list[dict] = []
DELIVERIES: list[dict] = []
PENDING = [0]
JOURNAL_LIMIT = 1000


@web.middleware
async def journal(request: web.Request, handler):
    """Record each API request on arrival (before a delay), for tests to inspect."""
    if request.path.startswith("/v1/"):
        del REQUESTS[: max(0, len(REQUESTS) - JOURNAL_LIMIT + 1)]
        REQUESTS.append(
            {
                "method": request.method,
                "path": request.path,
                "idempotency_key": request.headers.get("Idempotency-Key"),
            }
        )
    return await handler(request)


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(REQUESTS)


async def list_deliveries(request: web.Request) -> web.Response:
    return web.json_response(DELIVERIES)


async def forget_webhook(request: web.Request) -> web.Response:
    """``DELETE /_config/webhooks/<name>``: stop delivering there (localstripe cannot)."""
    webhooks._webhooks.pop(request.match_info["name"], None)
    return web.Response()


async def list_pending(request: web.Request) -> web.Response:
    """How many events still wait for their delivery (localstripe sends ~1 s later)."""
    return web.json_response({"pending": PENDING[0]})


async def send_webhook(event) -> None:
    """localstripe's delivery (same body, signature and ~1 s delay), recorded as sent."""
    PENDING[0] += 1
    try:
        await _deliver(event)
    finally:
        PENDING[0] -= 1


async def _deliver(event) -> None:
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode("utf-8")
    signed_payload = b"%d.%s" % (event.created, payload)
    await asyncio.sleep(1)
    for hook in list(webhooks._webhooks.values()):
        if hook.events is not None and event.type not in hook.events:
            continue
        signature = hmac.new(hook.secret.encode("utf-8"), signed_payload, hashlib.sha256)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={event.created},v1={signature.hexdigest()}",
        }
        delivery = {"url": hook.url, "headers": headers, "body": payload.decode("utf-8")}
        delivery["type"], delivery["event_id"] = event.type, event.id
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(hook.url, data=payload, headers=headers) as answer,
            ):
                delivery["status"] = answer.status
        except aiohttp.ClientError as exc:
            delivery["status"], delivery["error"] = None, str(exc)
        del DELIVERIES[: max(0, len(DELIVERIES) - JOURNAL_LIMIT + 1)]
        DELIVERIES.append(delivery)
        logging.getLogger("aiohttp.access").info(
            "webhook %s %s -> %s", event.type, event.id, delivery["status"]
        )


def use_state_file(path: Path) -> None:
    """Keep localstripe's objects in ``path``: load them now, write them on every change."""

    def dump_to_disk(store) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)

    if path.exists():
        with open(path, "rb") as f:
            dict.update(resources.store, pickle.load(f))  # noqa: S301 (our own file)
    resources.Store.dump_to_disk = dump_to_disk


webhooks._send_webhook = send_webhook
app.router.add_get("/v1/account", account)
app.router.add_post("/_config/delay", set_delay)
app.router.add_get("/_config/requests", list_requests)
app.router.add_get("/_config/deliveries", list_deliveries)
app.router.add_get("/_config/pending", list_pending)
app.router.add_delete("/_config/webhooks/{name}", forget_webhook)
app.middlewares.append(journal)
app.middlewares.append(slow_calls)
app.middlewares.append(idempotency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-file", type=Path, help="keep the objects here (survives restarts)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.state_file:
        use_state_file(args.state_file)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=logging.getLogger("aiohttp"))


if __name__ == "__main__":
    main()
