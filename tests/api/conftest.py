"""API test helpers: clients authenticated by token, with or without permissions."""

from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import Permission
from django.core.handlers.base import BaseHandler
from django.db.models import signals
from django.utils import timezone
from rest_framework.test import APIClient

from connections.models import Connection
from konnectify.models import ApiToken


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
def fast_passwords(settings):
    """Users are created in almost every test; the password hasher is not under test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STRIPE_API_BASE = API


@pytest.fixture
def stripe():
    """``responses`` in strict mode: every registered answer must be used, nothing else sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def connection(db) -> Connection:
    """A test-mode connection with a key, a signing secret and a previous one still valid."""
    return Connection.objects.create(
        name="API test account",
        secret_key=SECRET_KEY,
        key_hint="sk_test_...abcd",
        mode=Connection.Mode.TEST,
        key_kind=Connection.KeyKind.SECRET,
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
        self.seen: set[str] = set(RAW_SECRETS)

    def record(self, request, response) -> None:
        body = b"" if getattr(response, "streaming", False) else bytes(response.content)
        headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
        label = f"{request.method} {request.get_full_path()} -> {response.status_code}"
        self.responses.append((label, headers + b"\n\n" + body))

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
