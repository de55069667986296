"""``manage.py worker`` stops within seconds on SIGTERM, to its leader alone or to its
whole process group (systemd's KillMode=control-group), and finishes the task in hand."""

import os
import signal
import sys
import time

import pytest
from django_q.tasks import async_task

from konnectify.platform import processes
from tests.support.processes import BASE_DIR, child_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TASK_SECONDS = 3
# The task's remaining seconds, the cluster's own stop (about 1 s) and a margin.
STOP_WITHIN_SECONDS = TASK_SECONDS + 7


def send_to_leader(process) -> None:
    os.kill(process.pid, signal.SIGTERM)


def send_to_group(process) -> None:
    os.killpg(process.pid, signal.SIGTERM)


@pytest.mark.parametrize("send_sigterm", [send_to_group, send_to_leader], ids=["group", "leader"])
def test_sigterm_stops_the_worker_within_seconds_after_the_task_in_hand(
    send_sigterm, artifacts, tmp_path
):
    log = artifacts / f"worker-stop-{send_sigterm.__name__}.log"
    marker = tmp_path / "task"
    process = processes.start(
        [sys.executable, "manage.py", "worker"], cwd=BASE_DIR, env=child_env(), log=log
    )
    try:
        async_task("tests.support.tasks.hold", str(marker), TASK_SECONDS)
        wait_until(lambda: marker.with_suffix(".started").exists(), timeout=30)
        sent = time.monotonic()
        send_sigterm(process)

        exit_code = process.wait(timeout=STOP_WITHIN_SECONDS)

        assert time.monotonic() - sent < STOP_WITHIN_SECONDS
        assert exit_code == 0, log.read_text()
        assert marker.with_suffix(".finished").exists(), "the task in hand was cut off"
        with pytest.raises(ProcessLookupError):  # nothing of the cluster outlives its leader
            os.killpg(process.pid, 0)
    finally:
        processes.stop(process, timeout=1)
