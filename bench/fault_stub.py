"""A Stripe stub for fault tests and fault scripts: outages, 429 storms, idempotency like Stripe's.

It serves on 127.0.0.1 (a free port) in a thread of the calling process and answers like
Stripe: JSON bodies, a ``Request-Id`` header, Stripe's error shape. What makes it useful
for faults:

- ``mode`` switches it between answering normally, answering 500 to everything (an
  outage) and answering 429 with ``Retry-After`` (a rate-limit storm);
- POSTs are idempotent by ``Idempotency-Key`` as in Stripe: the first *executed*
  request's response is stored and replayed for the same key, so a retry creates
  nothing new. An outage's 500 and a 429 are answered before anything executes, so, as
  in Stripe, they are not stored and a later retry with the same key executes;
- it counts the objects created per idempotency key, which is how "no duplicate
  objects" is checked: every key must have created exactly one object.

Only what the fault scenarios call is modelled: creating and updating customers, and a
generic object for any other path.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

OK, OUTAGE, RATE_LIMITED = "ok", "outage", "rate_limited"


@dataclass
class Seen:
    """One request as the stub saw it."""

    at: float  # time.time()
    method: str
    path: str
    key: str | None
    status: int


@dataclass
class StubState:
    """Everything the stub remembers; read it through the FaultStub's helpers."""

    mode: str = OK
    retry_after: int = 1
    seen: list[Seen] = field(default_factory=list)
    replies: dict[str, tuple[int, dict]] = field(default_factory=dict)  # key -> first response
    created: Counter = field(default_factory=Counter)  # key -> objects created with it
    objects: int = 0


class FaultStub:
    """Start with ``FaultStub()``; ``url`` is its base URL; ``close()`` stops it."""

    def __init__(self, port: int = 0) -> None:
        self.state = StubState()
        self.lock = threading.Lock()
        self.server = QuietServer(("127.0.0.1", port), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_mode(self, mode: str, *, retry_after: int = 1) -> None:
        """OK, OUTAGE (500 to everything) or RATE_LIMITED (429 with ``Retry-After``)."""
        with self.lock:
            self.state.mode = mode
            self.state.retry_after = retry_after

    # -- what happened ---------------------------------------------------------

    def requests(self) -> list[Seen]:
        with self.lock:
            return list(self.state.seen)

    def creations_by_key(self) -> Counter:
        """Objects created per idempotency key (each must be 1)."""
        with self.lock:
            return Counter(self.state.created)

    def duplicate_keys(self) -> list[str]:
        return [key for key, count in self.creations_by_key().items() if count > 1]

    def objects_created(self) -> int:
        with self.lock:
            return self.state.objects

    def statuses(self) -> Counter:
        return Counter(seen.status for seen in self.requests())

    # -- answering -------------------------------------------------------------

    def answer(self, method: str, path: str, key: str | None, form: dict) -> tuple[int, dict, dict]:
        """(status, headers, body) for one request; the lock makes each key atomic."""
        with self.lock:
            status, headers, body = self._answer_locked(method, path, key, form)
            self.state.seen.append(Seen(time.time(), method, path, key, status))
        return status, headers, body

    def _answer_locked(self, method, path, key, form) -> tuple[int, dict, dict]:
        state = self.state
        if state.mode == OUTAGE:
            return 500, {}, _error("api_error", "An unexpected error occurred (stub outage).")
        if state.mode == RATE_LIMITED:
            headers = {"Retry-After": str(state.retry_after)}
            body = _error("invalid_request_error", "Too many requests (stub).", code="rate_limit")
            return 429, headers, body
        if method == "POST" and key and key in state.replies:
            status, body = state.replies[key]
            return status, {"Idempotent-Replayed": "true"}, body
        status, body = self._execute(method, path, key, form)
        if method == "POST" and key:
            state.replies[key] = (status, body)
        return status, {}, body

    def _execute(self, method: str, path: str, key: str | None, form: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "customers"]:
            self.state.objects += 1
            self.state.created[key or f"no-key-{self.state.objects}"] += 1
            customer = {"id": f"cus_stub{self.state.objects:07d}", "object": "customer"}
            customer.update({k: v for k, v in form.items() if "[" not in k})
            return 200, customer
        if len(parts) >= 3 and parts[1] == "customers":
            return 200, {"id": parts[2], "object": "customer", "livemode": False}
        if parts[-1] == "events":
            return 200, {"object": "list", "data": [], "has_more": False, "url": path}
        return 200, {"id": "obj_stub", "object": parts[-1].rstrip("s") or "object"}


class QuietServer(ThreadingHTTPServer):
    """A client killed mid-request (SIGKILLed workers do that) is expected, not an error."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(error_type: str, message: str, code: str | None = None) -> dict:
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def _handler_for(stub: FaultStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def do_GET(self) -> None:
            self.reply()

        def do_POST(self) -> None:
            self.reply()

        def do_DELETE(self) -> None:
            self.reply()

        def reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = dict(parse_qsl(raw, keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            status, headers, body = stub.answer(self.command, urlsplit(self.path).path, key, form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-Id", f"req_{secrets.token_hex(7)}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            """Quiet: the stub records what it saw in ``stub.state.seen``."""

    return Handler
