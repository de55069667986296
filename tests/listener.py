"""A tiny HTTP server on 127.0.0.1 that records every request: an attacker's listener,
or a Stripe stand-in that answers one JSON object."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How often serve_forever looks for shutdown(): its default, 0.5 s, is what stopping
# the server at the end of each test would take.
SHUTDOWN_POLL_SECONDS = 0.05


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class RecordingServer:
    url: str
    requests: list[Received] = field(default_factory=list)


@contextmanager
def recording_server(
    answer: dict | None = None, *, status: int = 200, delay: float = 0.0
) -> Iterator[RecordingServer]:
    """Serve on a free port; every request (and its body) is recorded and answered
    ``answer`` as JSON with ``status``, after ``delay`` seconds."""
    body = json.dumps(answer or {}).encode()
    server_box: list[RecordingServer] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server_box[0].requests.append(
                Received(self.command, self.path, dict(self.headers), sent)
            )
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _record

        def log_message(self, format, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_box.append(RecordingServer(f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield server_box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
