"""GET /healthz reports the database and the worker cluster."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_q.models import OrmQ

pytestmark = pytest.mark.django_db


class FakeStat:
    cluster_id = "c1"


def test_it_is_unhealthy_when_no_worker_reports(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert response.json()["database"] == "ok"


def test_it_is_healthy_when_a_cluster_reports(client):
    with mock.patch("konnectify.health.Stat.get_all", return_value=[FakeStat()]):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_names_the_database_when_it_is_unreachable(client):
    broken = mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("connection refused"),
    )
    with broken:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert "database" in response.json()["failing"]


def test_it_needs_no_login_and_answers_json_only_to_get(client):
    assert client.post("/healthz").status_code == 405


def test_it_names_the_queue_when_a_task_waits_too_long(client, settings):
    settings.HEALTH_QUEUE_STALL_SECONDS = 60
    # The check reads the ORM broker's table: with REDIS_URL set the suite runs on Redis.
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "orm": "default"}
    OrmQ.objects.create(key="konnectify", payload="x", lock=timezone.now() - timedelta(seconds=61))
    with mock.patch("konnectify.health.Stat.get_all", return_value=[FakeStat()]):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["queue"]
    assert response.json()["queue"].startswith("oldest waiting task 6")


def test_a_task_taken_by_a_worker_is_not_waiting(client, settings):
    settings.HEALTH_QUEUE_STALL_SECONDS = 60
    # A worker took it: its lock lies in the future until it may be handed out again.
    OrmQ.objects.create(key="konnectify", payload="x", lock=timezone.now() + timedelta(seconds=200))
    with mock.patch("konnectify.health.Stat.get_all", return_value=[FakeStat()]):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["queue"] == "empty"
