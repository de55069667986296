"""A real HTTP server on 127.0.0.1 for the HTTP request step: records each request, answers
from a script (status, headers, body; or a function of the request), 200 JSON echo otherwise."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How often serve_forever looks for shutdown(): its default, 0.5 s, is what stopping
# the server at the end of each test would take.
SHUTDOWN_POLL_SECONDS = 0.05


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = {key.lower(): value for key, value in self.headers.items()}
        return lowered.get(name.lower())


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    drip: float = 0.0  # seconds between the body's bytes


@dataclass
class Server:
    url: str
    port: int
    seen: list[Seen] = field(default_factory=list)
    script: list[Answer | Callable[[Seen], Answer]] = field(default_factory=list)

    def answer(self, *answers: Answer | Callable[[Seen], Answer]) -> None:
        self.script.extend(answers)


def echo(request: Seen) -> Answer:
    """Answer the request's headers and body as JSON (as httpbin's /anything does)."""
    body = {"headers": request.headers, "body": request.body.decode(errors="replace")}
    return Answer(body=json.dumps(body).encode())


@contextmanager
def http_server() -> Iterator[Server]:
    box: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Seen(self.command, self.path, dict(self.headers), body)
            server = box[0]
            server.seen.append(request)
            answer = server.script.pop(0) if server.script else Answer()
            if callable(answer):
                answer = answer(request)
            if answer.delay:
                time.sleep(answer.delay)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                if not answer.drip:
                    self.wfile.write(answer.body)
                for index in range(len(answer.body) if answer.drip else 0):
                    self.wfile.write(answer.body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(answer.drip)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    box.append(Server(f"http://127.0.0.1:{port}", port))
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
