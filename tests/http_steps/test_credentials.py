"""Credentials: encrypted at rest, added at send time, signed when asked, never shown again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time

import pytest
import stripe
from django.contrib.auth.models import Permission
from django.db import connection as db
from rest_framework.test import APIClient

from connections.credentials import Credential
from connections.outbound import HttpClient
from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError, StripeError
from tests.http_steps.server import Answer, echo

pytestmark = pytest.mark.django_db
ACTION = get_action("http_request")
TOKEN = "tok_live_crm_9f8e7d6c5b4a39281706"
PASSWORD = "pw-basic-Secret-0123456789"
API_KEY = "key_abcdefghijklmnop0123"
SIGNING = "sign_0123456789abcdefghij"


@pytest.fixture
def bearer() -> Credential:
    return Credential.objects.create(
        name="crm", kind=Credential.Kind.BEARER, secret=TOKEN, allowed_hosts="127.0.0.1"
    )


def send(server, credential: str | None, client: HttpClient | None = None, **extra):
    data = {"method": "POST", "url": f"{server.url}/in", "json_body": {"a": 1}, **extra}
    if credential:
        data["credential"] = credential
    return ACTION.run(client or HttpClient(), data, idempotency_key="key-1")


def test_secrets_are_encrypted_at_rest(bearer):
    Credential.objects.filter(pk=bearer.pk).update(signing_secret=SIGNING)
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT secret, signing_secret FROM connections_credential WHERE id = %s", [bearer.pk]
        )
        stored = cursor.fetchone()
    assert all(stored) and TOKEN not in stored[0] and SIGNING not in stored[1]
    again = Credential.objects.get(pk=bearer.pk)
    assert (again.secret, again.signing_secret) == (TOKEN, SIGNING)
    assert again.secret_hint == "••••1706"


@pytest.mark.parametrize(
    ("fields", "header", "value"),
    [
        ({"kind": "bearer", "secret": TOKEN}, "Authorization", f"Bearer {TOKEN}"),
        (
            {"kind": "basic", "username": "ops", "secret": PASSWORD},
            "Authorization",
            "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode(),
        ),
        ({"kind": "api_key", "header_name": "X-Api-Key", "secret": API_KEY}, "X-Api-Key", API_KEY),
    ],
)
def test_each_kind_adds_its_header_at_send_time(fields, header, value, server, allow_loopback):
    Credential.objects.create(name="svc", allowed_hosts="127.0.0.1", **fields)
    send(server, "svc")
    assert server.seen[0].header(header) == value


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "basic", "secret": "x"}, "username"),
        ({"kind": "api_key", "secret": "x"}, "header_name"),
        ({"kind": "api_key", "header_name": "Host", "secret": "x"}, "header_name"),
        ({"kind": "api_key", "header_name": "Bad Name", "secret": "x"}, "header_name"),
        ({"kind": "bearer", "secret": "a\r\nX-Evil: 1"}, "secret"),
        ({"kind": "bearer", "username": "u", "secret": "x"}, "username"),
    ],
)
def test_each_kind_checks_what_it_needs(fields, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        Credential(name="c", allowed_hosts="127.0.0.1", **fields).full_clean()
    assert field in caught.value.message_dict


def test_an_echoed_secret_is_masked_in_the_output_and_the_error(bearer, server, allow_loopback):
    server.answer(
        echo,
        lambda request: Answer(
            status=400, body=json.dumps({"got": request.header("Authorization")}).encode()
        ),
    )
    output = send(server, "crm").output
    assert TOKEN not in json.dumps(output)
    assert output["body"]["headers"]["Authorization"] == "[redacted]"
    with pytest.raises(StripeError) as caught:
        send(server, "crm")
    assert TOKEN not in json.dumps(caught.value.to_dict()) and "[redacted]" in caught.value.message


def test_an_unknown_credential_names_the_field(server, allow_loopback):
    with pytest.raises(ActionInputError) as caught:
        send(server, "nope")
    assert caught.value.fields == ["credential"]
    assert server.seen == []


def test_using_a_credential_needs_its_permission(bearer, server, allow_loopback, django_user_model):
    user = django_user_model.objects.create_user("integration", password="x-123456!")
    with pytest.raises(StripeError) as caught:
        send(server, "crm", HttpClient(user=user))
    assert caught.value.type == "credential_not_allowed"
    assert "Can send HTTP requests with a credential" in caught.value.message
    assert server.seen == []
    user.user_permissions.add(Permission.objects.get(codename="use_credential"))
    user = django_user_model.objects.get(pk=user.pk)  # permissions are cached per instance
    send(server, "crm", HttpClient(user=user))
    assert len(server.seen) == 1


def stripe_style_verify(body: bytes, header: str, secret: str, tolerance: int = 300) -> bool:
    """A receiver's own check, as for Stripe-Signature: t and v1 from the header,
    HMAC-SHA256 of "t.body" with the secret, compared in constant time, t recent."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


def test_requests_are_signed_in_stripes_webhook_scheme(bearer, server, allow_loopback):
    bearer.signing_secret = SIGNING
    bearer.save()
    send(server, "crm", json_body={"customer": "cus_1", "amount": 500})
    seen = server.seen[0]
    header = seen.header("Konnectify-Signature")
    assert header.startswith("t=") and ",v1=" in header
    assert stripe_style_verify(seen.body, header, SIGNING)
    assert not stripe_style_verify(seen.body + b" ", header, SIGNING)
    # Stripe's own SDK verifies it as it verifies Stripe's webhooks.
    assert stripe.WebhookSignature.verify_header(seen.body, header, SIGNING, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(seen.body, header, "other_secret", tolerance=300)


def test_without_a_signing_secret_nothing_is_signed(bearer, server, allow_loopback):
    send(server, "crm")
    assert server.seen[0].header("Konnectify-Signature") is None


# -- the API --------------------------------------------------------------------------


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_user("api", password="x-123456!")
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_credential"))
    client = APIClient()
    client.force_authenticate(django_user_model.objects.get(pk=user.pk))
    return client


def test_the_api_stores_secrets_and_never_returns_them(api):
    created = api.post(
        "/api/v1/credentials/",
        {
            "name": "crm",
            "kind": "bearer",
            "secret": TOKEN,
            "signing_secret": SIGNING,
            "allowed_hosts": ["crm.example.com"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret_hint"] == "••••1706" and body["has_signing_secret"] is True
    pk = body["id"]
    answers = [
        created,
        api.get("/api/v1/credentials/"),
        api.get(f"/api/v1/credentials/{pk}/"),
        api.patch(f"/api/v1/credentials/{pk}/", {"description": "CRM"}, format="json"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        text = answer.content.decode()
        assert TOKEN not in text and SIGNING not in text
        assert '"secret"' not in text and '"signing_secret"' not in text
    listed = answers[1].json()
    assert (listed["count"], listed["results"][0]["name"]) == (1, "crm")
    replaced = api.patch(
        f"/api/v1/credentials/{pk}/",
        {"secret": "new-secret-value-000011", "signing_secret": ""},
        format="json",
    )
    assert replaced.json()["secret_hint"] == "••••0011"
    assert replaced.json()["has_signing_secret"] is False
    assert Credential.objects.get(pk=pk).secret == "new-secret-value-000011"
    assert api.delete(f"/api/v1/credentials/{pk}/").status_code == 204
    assert not Credential.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "kind": "bearer"}, "secret"),
        ({"name": "a", "kind": "basic", "secret": "x"}, "username"),
        ({"name": "a", "kind": "api_key", "secret": "x"}, "header_name"),
        ({"name": "a b", "kind": "bearer", "secret": "x"}, "name"),
        ({"name": "a", "kind": "bearer", "secret": "x", "token": "y"}, "token"),
    ],
)
def test_the_api_names_the_bad_field(api, body, field):
    answer = api.post("/api/v1/credentials/", body, format="json")
    assert answer.status_code == 400
    assert field in json.dumps(answer.json())


def test_the_api_needs_the_model_permissions(django_user_model, bearer):
    user = django_user_model.objects.create_user("nobody", password="x-123456!")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/v1/credentials/").status_code == 403
    assert client.post("/api/v1/credentials/", {"name": "x"}, format="json").status_code == 403


# -- admin ------------------------------------------------------------------------------


def test_admin_shows_a_mask_never_the_secret(admin_client, bearer):
    bearer.signing_secret = SIGNING
    bearer.save()
    pages = [
        admin_client.get("/admin/connections/credential/"),
        admin_client.get(f"/admin/connections/credential/{bearer.pk}/change/"),
        admin_client.get("/admin/connections/credential/add/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert TOKEN not in page.content.decode() and SIGNING not in page.content.decode()
    assert "••••1706" in pages[0].content.decode()
    assert "••••1706" in pages[1].content.decode()


def test_admin_saves_secrets_and_keeps_them_when_left_blank(admin_client):
    added = admin_client.post(
        "/admin/connections/credential/add/",
        {
            "name": "slack",
            "kind": "api_key",
            "header_name": "X-Key",
            "allowed_hosts": "hooks.slack.com",
            "new_secret": API_KEY,
            "new_signing_secret": "",
            "description": "",
        },
    )
    assert added.status_code == 302
    credential = Credential.objects.get(name="slack")
    assert credential.secret == API_KEY
    changed = admin_client.post(
        f"/admin/connections/credential/{credential.pk}/change/",
        {
            "name": "slack",
            "kind": "api_key",
            "header_name": "X-Other",
            "allowed_hosts": "hooks.slack.com",
            "new_secret": "",
            "new_signing_secret": SIGNING,
            "description": "alerts",
        },
    )
    assert changed.status_code == 302
    credential.refresh_from_db()
    assert (credential.secret, credential.header_name, credential.signing_secret) == (
        API_KEY,
        "X-Other",
        SIGNING,
    )


def test_admin_names_the_field_a_kind_needs(admin_client):
    page = admin_client.post(
        "/admin/connections/credential/add/",
        {"name": "b", "kind": "basic", "new_secret": "x", "username": ""},
    )
    assert page.status_code == 200
    assert "Basic auth needs a user name." in page.content.decode()


def test_the_api_index_lists_credentials(api):
    resources = {item["name"]: item for item in api.get("/api/v1/").json()["resources"]}
    assert resources["credentials"]["url"].endswith("/api/v1/credentials/")


def test_key_rotation_re_encrypts_credentials(bearer, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    bearer.signing_secret = SIGNING
    bearer.save()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "connections.Credential: 1 row(s) re-encrypted." in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key dropped
    again = Credential.objects.get(pk=bearer.pk)
    assert (again.secret, again.signing_secret) == (TOKEN, SIGNING)
