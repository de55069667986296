"""A Stripe call never follows a proxy from the environment (it would carry the key)."""

import socket
import threading

import pytest

from stripe_connector.client import StripeClient, _new_session

KEY = "sk_test_51ProxyTestKey000000000000000000000000000000000000abcd"


def listener() -> tuple[int, list[bytes]]:
    """A 127.0.0.1 socket standing in for a proxy: records what reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    seen: list[bytes] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        seen.append(conn.recv(65536))
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], seen


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_the_key_never_goes_to_a_proxy_named_in_the_environment(settings, monkeypatch, variable):
    port, seen = listener()
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # an allowed stand-in; nothing listens
    settings.STRIPE_API_ALLOWED_BASES = []
    monkeypatch.setenv(variable, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = StripeClient(KEY)
    client.session = _new_session()  # what a new worker thread gets
    with pytest.raises(Exception):  # noqa: B017 - the stand-in is down: any error will do
        client.get("/v1/account")
    assert not any(KEY.encode() in data for data in seen)
    assert not seen


def test_a_session_ignores_the_environment():
    assert _new_session().trust_env is False
