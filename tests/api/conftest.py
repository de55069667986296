"""API test helpers: clients authenticated by token, with or without permissions."""

import functools
import re
from datetime import timedelta

import pytest
import requests
import responses
import schemathesis
from django.contrib.auth.models import Permission
from django.core.handlers.base import BaseHandler
from django.db.models import signals
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response

from connections.models import Connection
from konnectify.platform.models import ApiToken
from tests.support.factories import make_connection


def token_client(user, *, read_only: bool = False) -> APIClient:
    _, raw = ApiToken.issue(name="tests", user=user, read_only=read_only)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def grant(user, *codenames: str) -> None:
    """Give ``user`` model permissions by codename (``view_connection``, ...)."""
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def api_user(django_user_model):
    return django_user_model.objects.create_user("integration", password="x-123456!")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def no_perms(api_user) -> APIClient:
    """Authenticated, but holding no model permission."""
    return token_client(api_user)


@pytest.fixture
def superuser_api(django_user_model) -> APIClient:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x-123456!")
    return token_client(admin)


@pytest.fixture
def read_only_api(django_user_model) -> APIClient:
    """A read-only token of a superuser: may read everything, write nothing."""
    admin = django_user_model.objects.create_superuser("reader", "r@example.com", "x-123456!")
    return token_client(admin, read_only=True)


# --- data and Stripe ----------------------------------------------------------------

API = "https://api.stripe.com"
SECRET_KEY = "sk_test_51ApiTestsSecretKey000000000000000000000000000000abcd"
NEW_KEY = "sk_test_51ApiTestsReplacementKey0000000000000000000000000wxyz"
WEBHOOK_SECRET = "whsec_apitests_current_0123456789abcdef"
OLD_WEBHOOK_SECRET = "whsec_apitests_previous_0123456789abcdef"
PASTED_SECRET = "whsec_apitests_pasted_0123456789abcdef"
# Every raw secret these tests use: no API response may ever contain one.
RAW_SECRETS = {SECRET_KEY, NEW_KEY, WEBHOOK_SECRET, OLD_WEBHOOK_SECRET, PASTED_SECRET}


@pytest.fixture(autouse=True)
def fast_passwords(settings, fast_password_hashing):
    """Users are created in almost every test; Stripe is the test stand-in."""
    settings.STRIPE_API_BASE = API


@pytest.fixture
def stripe():
    """``responses`` in strict mode: every registered answer must be used, nothing else sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def connection(db) -> Connection:
    """A test-mode connection with a key, a signing secret and a previous one still valid."""
    return make_connection(
        name="API test account",
        secret_key=SECRET_KEY,
        account_id="acct_1Api",
        account_name="API Shop",
        webhook_secret=WEBHOOK_SECRET,
        previous_webhook_secret=OLD_WEBHOOK_SECRET,
        previous_secret_expires_at=timezone.now() + timedelta(hours=1),
        webhook_endpoint_id="we_1Api",
        webhook_enabled_events=["customer.created"],
        webhook_status=Connection.WebhookStatus.ENABLED,
    )


def account_json(**fields) -> dict:
    data = {
        "id": "acct_1New",
        "object": "account",
        "email": "owner@example.com",
        "settings": {"dashboard": {"display_name": "New Shop"}},
    }
    data.update(fields)
    return data


def stripe_error(message: str, error_type: str = "invalid_request_error", **fields) -> dict:
    return {"error": {"type": error_type, "message": message, **fields}}


def field_errors(response) -> dict[str, str]:
    """``{"field path": "message"}`` of an error answer (first message per field)."""
    body = response.json()
    assert body["type"] == "validation_error", body
    found: dict[str, str] = {}
    for item in body["errors"]:
        found.setdefault(item["field"], item["message"])
    return found


# --- no secret in any response ----------------------------------------------------------


class SecretScanner:
    """Records every response Django produces in a test and finds secrets in them.

    The secrets: the raw test keys above, every key and signing secret any
    Connection held while the test ran (saved or deleted), and those in the
    database at the end.
    """

    def __init__(self) -> None:
        self.responses: list[tuple[str, bytes]] = []
        self.api_responses: list[tuple[str, str, object]] = []  # for the schema check
        self.seen: set[str] = set(RAW_SECRETS)

    def record(self, request, response) -> None:
        body = b"" if getattr(response, "streaming", False) else bytes(response.content)
        headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
        label = f"{request.method} {request.get_full_path()} -> {response.status_code}"
        self.responses.append((label, headers + b"\n\n" + body))
        if request.path.startswith("/api/v1/"):
            self.api_responses.append((request.method, request.path, response))

    def remember(self, connection: Connection) -> None:
        for name in ("secret_key", "webhook_secret", "previous_webhook_secret"):
            if name in connection.get_deferred_fields():
                continue
            value = getattr(connection, name)
            if value:
                self.seen.add(value)

    def secrets(self) -> set[str]:
        for connection in Connection.objects.all():
            self.remember(connection)
        return {secret for secret in self.seen if len(secret) >= 12}

    def leaks(self) -> list[str]:
        secrets = self.secrets()
        return [
            f"{label} contains {secret[:8]}...{secret[-4:]}"
            for label, content in self.responses
            for secret in secrets
            if secret.encode() in content
        ]

    def forget(self) -> None:
        """Drop what was recorded (for the test that leaks on purpose)."""
        self.responses.clear()
        self.api_responses.clear()


@pytest.fixture(autouse=True)
def secret_scanner(db, monkeypatch):
    """Fails the test if any response it produced contains a key or signing secret."""
    scanner = SecretScanner()
    original = BaseHandler.get_response

    def get_response(handler, request):
        response = original(handler, request)
        scanner.record(request, response)
        return response

    def remember(sender, instance, **kwargs):
        scanner.remember(instance)

    monkeypatch.setattr(BaseHandler, "get_response", get_response)
    signals.post_save.connect(remember, sender=Connection, weak=False, dispatch_uid="scan")
    signals.pre_delete.connect(remember, sender=Connection, weak=False, dispatch_uid="scan")
    try:
        yield scanner
    finally:
        signals.post_save.disconnect(sender=Connection, dispatch_uid="scan")
        signals.pre_delete.disconnect(sender=Connection, dispatch_uid="scan")
    leaks = scanner.leaks()
    if leaks:
        pytest.fail("A response contains a secret:\n" + "\n".join(leaks), pytrace=False)


# --- every API response matches the OpenAPI schema ----------------------------------------


@functools.cache
def openapi() -> tuple[schemathesis.schemas.BaseSchema, list[tuple[re.Pattern, str]]]:
    """The generated schema (as /api/schema/ serves it) and a matcher for its paths."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    paths = [
        (re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$"), path)
        for path in raw["paths"]
    ]
    return schemathesis.openapi.from_dict(raw), paths


def schema_problem(method: str, path: str, response) -> str | None:
    """Why ``response`` does not match the schema's operation, or None when it does."""
    schema, paths = openapi()
    template = next((t for pattern, t in paths if pattern.match(path)), None)
    if template is None or method.lower() not in schema.raw_schema["paths"][template]:
        return None  # not an operation (a 405 for a method no endpoint has, an unknown path)
    documented = schema.raw_schema["paths"][template][method.lower()]["responses"]
    if str(response.status_code) not in documented:
        return f"{method} {path} -> {response.status_code}: undocumented status code"
    request = requests.Request(method, f"http://testserver{path}").prepare()
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.items()},
        content=bytes(response.content),
        request=request,
        elapsed=0.0,
        message="",
        encoding="utf-8",
        http_version="1.1",
        verify=True,
    )
    try:
        schema[template][method].validate_response(answer)
    except (AssertionError, FailureGroup) as exc:
        found = getattr(exc, "exceptions", [exc])
        text = "; ".join(" ".join(str(failure).split())[:300] for failure in found)
        return f"{method} {path} -> {response.status_code}: {text}"
    return None


@pytest.fixture(autouse=True)
def responses_match_the_schema(secret_scanner):
    """Every /api/v1/ response of the test (status, content type, body) fits the schema."""
    yield
    problems = [
        problem
        for method, path, response in secret_scanner.api_responses
        if (problem := schema_problem(method, path, response))
    ]
    if problems:
        pytest.fail("Responses do not match the schema:\n" + "\n".join(problems), pytrace=False)
