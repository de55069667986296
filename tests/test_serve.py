"""``manage.py serve`` (gunicorn and the worker) stops within seconds on SIGTERM to its
whole process group, as systemd's KillMode=control-group sends it, and writes nothing
under the home directory (gunicorn's control socket is off)."""

import os
import signal
import socket
import sys
import time

import pytest
import requests

from konnectify.platform import processes
from tests.support.processes import BASE_DIR, child_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STOP_WITHIN_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True


def test_sigterm_to_the_group_stops_web_and_worker_and_nothing_is_left_in_home(artifacts, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = child_env(HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)
    bind = f"127.0.0.1:{free_port()}"
    log = artifacts / "serve-stop.log"
    process = processes.start(
        [sys.executable, "manage.py", "serve", "--bind", bind], cwd=BASE_DIR, env=env, log=log
    )
    try:
        wait_until(lambda: answers(f"http://{bind}/healthz"), timeout=60)
        time.sleep(2)  # the worker's cluster is up too
        sent = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)

        process.wait(timeout=STOP_WITHIN_SECONDS)

        assert time.monotonic() - sent < STOP_WITHIN_SECONDS
        assert not answers(f"http://{bind}/healthz")
        assert list(home.iterdir()) == [], "something was written under HOME"
    finally:
        processes.stop(process, timeout=1)
