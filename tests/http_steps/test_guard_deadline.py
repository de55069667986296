"""The request's deadline covers the whole exchange, the answer's status line and headers too."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from stripe_connector.errors import APIConnectionError
from stripe_connector.outbound import OutboundPolicy, send

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def trickler():
    """A server that sends its status line, then one header byte every 0.2 s for 4 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(20):
                    if stop.wait(0.2):
                        return
                    conn.sendall(b"a")
                conn.sendall(b"\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                return  # the client hung up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_headers_arriving_a_byte_at_a_time_stop_at_the_deadline(trickler):
    """Each byte comes well within the read timeout; the headers would take 4 s."""
    policy = OutboundPolicy(allowed_networks=LOOPBACK, read_timeout=2, total_timeout=0.6)
    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="deadline") as caught:
        send("GET", f"http://127.0.0.1:{trickler}/", headers={}, body=None, policy=policy)
    assert time.monotonic() - started < 1.5
    assert caught.value.retryable is True


def test_an_answer_within_the_deadline_is_unaffected(server):
    policy = OutboundPolicy(allowed_networks=LOOPBACK, total_timeout=5)
    response = send("GET", f"{server.url}/fine", headers={}, body=None, policy=policy)
    assert response.status == 200
    assert response.body == b'{"ok": true}'
