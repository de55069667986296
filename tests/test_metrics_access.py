"""Who may read /metrics: METRICS_ALLOWED_NETWORKS (default: this host) or an API token."""

from __future__ import annotations

import subprocess
import sys

import pytest

from konnectify.platform.models import ApiToken
from tests.support.processes import BASE_DIR

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.9"


def assert_refused(response, status: int = 401) -> None:
    assert response.status_code == status
    assert b"konnectify_" not in response.content


def test_the_host_itself_reads_the_metrics_by_default(client):
    for address in ["127.0.0.1", "::1"]:
        response = client.get("/metrics", REMOTE_ADDR=address)
        assert response.status_code == 200, address
        assert b"# TYPE konnectify_queue_waiting_tasks gauge" in response.content


def test_an_anonymous_client_from_elsewhere_gets_401_and_no_data(client):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)

    assert_refused(response)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_valid_api_token_reads_the_metrics_from_anywhere(client, django_user_model):
    user = django_user_model.objects.create_user("prometheus")
    _, raw = ApiToken.issue(name="prometheus", user=user, read_only=True)

    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
    assert b"konnectify_queue_waiting_tasks" in response.content


def test_a_wrong_or_revoked_token_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("prometheus")
    token, raw = ApiToken.issue(name="prometheus", user=user)
    token.revoke()

    for header in ["Bearer kfy_wrong", f"Bearer {raw}"]:
        assert_refused(client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=header))


def test_the_allowed_networks_come_from_the_setting(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24", "2001:db8::/32"]

    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    assert_refused(client.get("/metrics", REMOTE_ADDR="127.0.0.1"))
    assert_refused(client.get("/metrics", REMOTE_ADDR="198.51.100.1"))


def test_behind_a_proxy_the_clients_address_counts_not_the_proxys(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    from_outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    from_the_host = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1"
    )

    assert_refused(from_outside)
    assert from_the_host.status_code == 200


def test_only_get_is_answered(client):
    assert client.post("/metrics").status_code == 405


def test_a_network_that_is_not_one_stops_the_start_naming_the_setting(tmp_path):
    clean = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path / "data"),
        "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,everywhere",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS: 'everywhere' is not a network" in result.stderr
