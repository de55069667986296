"""Fixtures of the HTTP request step tests: a real server on 127.0.0.1, allowed for them."""

from __future__ import annotations

import pytest
import urllib3.util.connection

from tests.http_steps.server import http_server


@pytest.fixture
def server():
    with http_server() as running:
        yield running


@pytest.fixture
def allow_loopback(settings):
    """The test server is on 127.0.0.1, which the guard refuses unless the operator allows it."""
    settings.HTTP_STEP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.HTTP_STEP_ALLOWED_HOSTS = []


@pytest.fixture
def connects(monkeypatch):
    """Record where urllib3 connects, and connect nowhere (the addresses are made up)."""
    seen: list[tuple[str, int]] = []

    def refuse(address, *args, **kwargs):
        seen.append(address)
        raise OSError("connections are recorded, not made, in this test")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    return seen
