"""Schemathesis against the generated OpenAPI schema, in-process (WSGI), Stripe faked.

Every operation gets a bounded number of generated requests, derandomized so
that CI sees the same ones every run, as a superuser's token: no answer may be
a 5xx, and every answer (status, content type, headers, body) must match the
schema. Path ids point at real rows half of the time, so success bodies are
checked as well as the 404s.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import responses
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from connections.models import InboxEvent
from konnectify.platform.models import ApiToken
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, Workflow

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The same schema /api/schema/ serves, generated from the code.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

STRIPE = re.compile(r"https://api\.stripe\.com/.*")
FAKE_SECRET = "whsec_schemathesis_fake_0123456789abcdef"


def fake_stripe(request) -> tuple[int, dict, str]:
    """Answers any Stripe call in Stripe's shape: an object, a list, or a deletion."""
    path = urlsplit(request.url).path
    last = path.rstrip("/").split("/")[-1]
    body: dict = {"id": last if "_" in last else "obj_fake", "object": "fake", "livemode": False}
    if request.method == "GET" and not ("_" in last or last == "account"):
        body = {"object": "list", "data": [], "has_more": False, "next_page": None, "url": path}
    elif request.method == "DELETE":
        body["deleted"] = True
    elif path == "/v1/webhook_endpoints":
        body.update(id="we_fake", secret=FAKE_SECRET, status="enabled", enabled_events=["*"])
    elif path.startswith("/v1/webhook_endpoints/"):
        body.update(status="enabled", enabled_events=["*"])
    return 200, {"Request-Id": "req_fake"}, json.dumps(body)


@pytest.fixture
def responses_match_the_schema():
    """Schemathesis checks each answer itself; the suite-wide check would repeat it."""
    yield


@pytest.fixture
def wsgi_in_test_transaction(settings):
    """Requests through the real WSGI handler, inside the test's transaction.

    The handler closes the database connection when a request ends; Django's
    test client turns that off for its requests, and so must we.
    """
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fake_stripe_api(settings):
    # The shared pacing of Stripe calls is not under test here: let the fake go full speed.
    settings.STRIPE_RATE_LIMIT_TEST = settings.STRIPE_RATE_LIMIT_LIVE = 10_000
    settings.STRIPE_RATE_LIMIT_SEARCH = 10_000
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "DELETE"):
            mock.add_callback(method, STRIPE, callback=fake_stripe)
        yield mock


@pytest.fixture
def superuser_token(django_user_model) -> str:
    admin = django_user_model.objects.create_superuser("conformance", "c@example.com", "x-1234!")
    return ApiToken.issue(name="schemathesis", user=admin)[1]


@pytest.fixture
def rows(connection) -> dict[str, str]:
    """One of each resource, by path prefix: a workflow, its failed run, an inbox event."""
    workflow = Workflow.objects.create(
        name="Conformance", connection=connection, trigger_key="customer.created"
    )
    Step.objects.create(
        workflow=workflow, order=1, name="find", action_key="find_customer", input_mapping={}
    )
    event = InboxEvent.objects.create(
        connection=connection,
        stripe_event_id="evt_conformance",
        type="customer.created",
        created=timezone.now() - timedelta(minutes=1),
        livemode=False,
        payload={"id": "evt_conformance", "type": "customer.created", "data": {"object": {}}},
    )
    run = create_run(workflow, event=event)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="Failed on purpose.")
    return {
        "/api/v1/connections/": str(connection.pk),
        "/api/v1/workflows/": str(workflow.pk),
        "/api/v1/runs/": str(run.pk),
        "/api/v1/events/": str(event.pk),
        "/api/v1/catalog/actions/": "create_customer",
        "/api/v1/catalog/triggers/": "invoice.paid",
    }


def aim_at_real_rows(case, rows: dict[str, str]) -> None:
    """Half of the generated ids (by a stable property of the id) become a real row's."""
    generated = str((case.path_parameters or {}).get("id", ""))
    if generated and sum(map(ord, generated)) % 2 == 0:
        prefix = next((p for p in rows if case.path.startswith(p)), None)
        if prefix:
            case.path_parameters["id"] = rows[prefix]
    body = case.body if isinstance(case.body, dict) else {}
    if "connection" in body and sum(map(ord, str(body["connection"]))) % 2 == 0:
        body["connection"] = rows["/api/v1/connections/"]


@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_schema(
    case, rows, fake_stripe_api, wsgi_in_test_transaction, superuser_token
):
    aim_at_real_rows(case, rows)
    case.call_and_validate(headers={"Authorization": f"Bearer {superuser_token}"}, checks=CHECKS)
