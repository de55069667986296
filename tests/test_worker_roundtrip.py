"""The real django-q2 cluster runs tasks from our broker, and /healthz sees it."""

import pytest
from django_q.tasks import async_task, result

from tests.support.processes import wait_until, worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_task_goes_through_the_real_cluster_and_back(artifacts, client):
    with worker(artifacts / "worker-roundtrip.log"):
        # save=True: successes are not stored by default (save_limit -1).
        task_id = async_task("tests.support.tasks.echo", {"hello": "worker"}, save=True)
        assert result(task_id, wait=30_000) == {"hello": "worker"}
        # The running cluster publishes a heartbeat that the healthcheck reads.
        wait_until(lambda: client.get("/healthz").status_code == 200, timeout=10)
