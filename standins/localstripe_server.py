"""Run localstripe (a stateful Stripe fake) on 127.0.0.1, for the tests and ``make demo``.

Built on localstripe's public interfaces only (the version is pinned exactly in
pyproject.toml): its aiohttp ``app`` (served here, extended with aiohttp's own
routes and middlewares), ``webhooks.register_webhook`` and the object ``store``.

localstripe binds every interface when started its own way; we serve its app on
loopback. It lacks ``GET /v1/account``, which Stripe always has and which the
product uses to validate a key, so we add that one route answering as Stripe does
(an account object). What it lacks for tests:

- ``--state-file PATH``: the objects are kept in PATH (loaded at start, written
  after every API write), so a restarted stand-in keeps its customers (as Stripe
  does after an outage) and several stand-ins never share a file;
- webhook deliveries go through a relay here: ``POST /_config/webhooks/<name>``
  (url, secret) registers ``<name>`` with localstripe pointing at
  ``/_config/relay/<name>``, which records the delivery exactly as sent (url, headers,
  body), forwards it to ``url`` and answers with its status. As on Stripe, a webhook
  gets only the events that happen after it is registered: localstripe picks the
  receivers when it sends (~1 s after the event), so the relay drops an event that
  was already in the store at registration;
  ``DELETE /_config/webhooks/<name>`` stops forwarding (late deliveries are dropped);
- ``GET /_config/requests``: the API requests received so far (method, path,
  Idempotency-Key), in arrival order, recorded before any delay;
- ``GET /_config/deliveries``: the relayed deliveries with the status each got;
- ``GET /_config/pending``: how many deliveries are being relayed right now;
- ``POST /_config/delay`` (path, seconds): make calls under a path slow;
- a POST repeated with the same Idempotency-Key gets the first answer, as Stripe does;
- every response carries a ``Request-Id`` header (``req_`` and 14 random letters and
  digits), as every answer of Stripe's API does: runs record it for each step.

    python -m standins.localstripe_server --port 8420 --state-file /tmp/ls.pickle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import pickle
import secrets
import string
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
# The headers Stripe signs a delivery with, kept in the journal of deliveries.
DELIVERY_HEADERS = ("Content-Type", "Stripe-Signature")
JOURNAL_LIMIT = 1000

# Set by the slow-call control: seconds to wait before answering a path prefix.
DELAYS: dict[str, float] = {}
IDEMPOTENT: dict[str, asyncio.Future] = {}
# What tests inspect: API requests as they arrive, webhook deliveries as relayed.
REQUESTS: list[dict] = []
DELIVERIES: list[dict] = []
IN_FLIGHT = [0]
# Where each registered webhook's deliveries go (its name -> the URL given at registration).
TARGETS: dict[str, str] = {}
# Each registered webhook's name -> the ids of the events that existed when it was registered.
EARLIER_EVENTS: dict[str, frozenset[str]] = {}
# Set by main(): this server's own URL, which localstripe delivers to.
SELF_URL = ["http://127.0.0.1:8420"]
STATE_FILE: list[Path] = []


async def account(request: web.Request) -> web.Response:
    return web.json_response(ACCOUNT)


REQUEST_ID_ALPHABET = string.ascii_letters + string.digits


def new_request_id() -> str:
    """A fresh id in the shape of Stripe's ``Request-Id`` (``req_8PEj0jkrKOw4Hd``)."""
    return "req_" + "".join(secrets.choice(REQUEST_ID_ALPHABET) for _ in range(14))


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, errors and replayed answers included, gets its own ``Request-Id``."""
    response.headers["Request-Id"] = new_request_id()


# -- controls --------------------------------------------------------------------------


async def set_delay(request: web.Request) -> web.Response:
    """``POST /_config/delay`` with ``path`` and ``seconds``: make matching calls slow."""
    data = await request.post()
    DELAYS[str(data["path"])] = float(data["seconds"])
    return web.Response()


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(REQUESTS)


async def list_deliveries(request: web.Request) -> web.Response:
    return web.json_response(DELIVERIES)


async def list_pending(request: web.Request) -> web.Response:
    return web.json_response({"pending": IN_FLIGHT[0]})


async def register_webhook(name: str, request: web.Request) -> web.Response:
    """Register ``name`` with localstripe, its deliveries relayed here to the given url."""
    data = await request.post()
    url, secret = data.get("url"), data.get("secret")
    if not url or not secret or not str(url).startswith("http"):
        return web.json_response({"error": {"message": "url and secret are required"}}, status=400)
    events = data.getall("events") if "events" in data else None
    TARGETS[name] = str(url)
    EARLIER_EVENTS[name] = event_ids()
    webhooks.register_webhook(name, f"{SELF_URL[0]}/_config/relay/{name}", str(secret), events)
    return web.Response()


def event_ids() -> frozenset[str]:
    """The ids of the events in localstripe's store now (``evt_...``)."""
    return frozenset(
        key.removeprefix("event:") for key in resources.store if key.startswith("event:")
    )


def forget_webhook(name: str) -> web.Response:
    """Stop forwarding ``name``'s deliveries; localstripe sends it no event type any more."""
    TARGETS.pop(name, None)
    webhooks.register_webhook(name, f"{SELF_URL[0]}/_config/relay/{name}", "forgotten", [])
    return web.Response()


@web.middleware
async def webhook_config(request: web.Request, handler):
    """``/_config/webhooks/<name>``: POST registers through the relay, DELETE forgets."""
    prefix = "/_config/webhooks/"
    if not request.path.startswith(prefix):
        return await handler(request)
    name = request.path.removeprefix(prefix)
    if request.method == "POST":
        return await register_webhook(name, request)
    if request.method == "DELETE":
        return forget_webhook(name)
    return await handler(request)


async def relay(request: web.Request) -> web.Response:
    """A delivery from localstripe: record it as sent, forward it, answer with its status.

    Dropped (410) when the webhook was forgotten, or registered after the event happened.
    """
    name = request.match_info["name"]
    target = TARGETS.get(name)
    body = await request.read()
    if target is None or json.loads(body).get("id") in EARLIER_EVENTS[name]:
        return web.Response(status=410)
    IN_FLIGHT[0] += 1
    try:
        delivery = await forward(target, body, {h: request.headers[h] for h in DELIVERY_HEADERS})
    finally:
        IN_FLIGHT[0] -= 1
    record(DELIVERIES, delivery)
    logging.getLogger("aiohttp.access").info(
        "webhook %s %s -> %s", delivery["type"], delivery["event_id"], delivery["status"]
    )
    return web.Response(status=delivery["status"] or 502)


async def forward(url: str, body: bytes, headers: dict[str, str]) -> dict:
    """POST the delivery to ``url``; the journal entry with the status (None: not reached)."""
    event = json.loads(body)
    delivery = {"url": url, "headers": headers, "body": body.decode("utf-8")}
    delivery["type"], delivery["event_id"] = event.get("type"), event.get("id")
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as answer,
        ):
            delivery["status"] = answer.status
    except aiohttp.ClientError as exc:
        delivery["status"], delivery["error"] = None, str(exc)
    return delivery


def record(journal: list[dict], entry: dict) -> None:
    """Append ``entry``, keeping the newest JOURNAL_LIMIT entries."""
    del journal[: max(0, len(journal) - JOURNAL_LIMIT + 1)]
    journal.append(entry)


# -- API behaviour ------------------------------------------------------------------------


@web.middleware
async def journal(request: web.Request, handler):
    """Record each API request on arrival (before a delay), for tests to inspect."""
    if request.path.startswith("/v1/"):
        record(
            REQUESTS,
            {
                "method": request.method,
                "path": request.path,
                "idempotency_key": request.headers.get("Idempotency-Key"),
            },
        )
    return await handler(request)


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


@web.middleware
async def keep_state(request: web.Request, handler):
    """After each API write, save localstripe's objects to the state file (if any)."""
    try:
        return await handler(request)
    finally:
        if STATE_FILE and request.method != "GET" and request.path.startswith("/v1/"):
            save_state(STATE_FILE[0])


def save_state(path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(dict(resources.store), f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_state(path: Path) -> None:
    if path.exists():
        with open(path, "rb") as f:
            resources.store.update(pickle.load(f))  # noqa: S301 (our own file)


app.router.add_get("/v1/account", account)
app.router.add_post("/_config/delay", set_delay)
app.router.add_get("/_config/requests", list_requests)
app.router.add_get("/_config/deliveries", list_deliveries)
app.router.add_get("/_config/pending", list_pending)
app.router.add_post("/_config/relay/{name}", relay)
app.middlewares.extend([webhook_config, journal, slow_calls, keep_state, idempotency])
app.on_response_prepare.append(add_request_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-file", type=Path, help="keep the objects here (survives restarts)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    SELF_URL[0] = f"http://127.0.0.1:{args.port}"
    if args.state_file:
        STATE_FILE.append(args.state_file)
        load_state(args.state_file)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=logging.getLogger("aiohttp"))


if __name__ == "__main__":
    main()
