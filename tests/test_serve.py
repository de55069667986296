"""``manage.py serve`` (gunicorn and the worker) stops within seconds on SIGTERM to its
whole process group, as systemd's KillMode=control-group sends it, and writes nothing
under the home directory (gunicorn's control socket is off)."""

import contextlib
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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True


def send_to_group(process) -> None:
    os.killpg(process.pid, signal.SIGTERM)


def send_to_every_process(process) -> None:
    """What systemd's KillMode=control-group does: SIGTERM to each process of the unit."""
    for pid in [process.pid, *processes.descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("send_sigterm", [send_to_group, send_to_every_process])
def test_sigterm_stops_web_and_worker_within_seconds_and_nothing_is_left_in_home(
    send_sigterm, artifacts, tmp_path
):
    home = tmp_path / "home"
    home.mkdir()
    env = child_env(HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)
    bind = f"127.0.0.1:{free_port()}"
    log = artifacts / f"serve-stop-{send_sigterm.__name__}.log"
    process = processes.start(
        [sys.executable, "manage.py", "serve", "--bind", bind], cwd=BASE_DIR, env=env, log=log
    )
    try:
        wait_until(lambda: answers(f"http://{bind}/healthz"), timeout=60)
        time.sleep(2)  # the worker's cluster is up too
        sent = time.monotonic()
        left = [process.pid, *processes.descendants(process.pid)]
        send_sigterm(process)

        process.wait(timeout=STOP_WITHIN_SECONDS)

        assert time.monotonic() - sent < STOP_WITHIN_SECONDS
        assert not answers(f"http://{bind}/healthz")
        assert [pid for pid in left if alive(pid)] == [], "a process outlived the stop"
        assert list(home.iterdir()) == [], "something was written under HOME"
    finally:
        processes.stop(process, timeout=1)
