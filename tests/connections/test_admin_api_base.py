"""Admin: a connection's key goes only to a Stripe API origin the environment allows."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from connections.forms import ConnectionForm
from connections.models import Connection
from tests.listener import recording_server

from .conftest import SECRET_KEY

pytestmark = pytest.mark.django_db

NEW_KEY = "sk_test_51NewKeyNewKeyNewKeyNewKey0123456789wxyz"


def account(account_id: str) -> dict:
    return {"id": account_id, "object": "account", "settings": {"dashboard": {"display_name": "X"}}}


@pytest.fixture
def stand_in(settings):
    """The Stripe origin the environment configures: a local stand-in."""
    with recording_server(account("acct_1Test")) as server:
        settings.STRIPE_API_BASE = server.url
        settings.STRIPE_API_ALLOWED_BASES = [server.url]
        yield server


@pytest.fixture
def listener():
    """The attacker's listener: it must never receive a request."""
    with recording_server(account("acct_1Attacker")) as server:
        yield server


@pytest.fixture
def editor_client(client, django_user_model):
    """Staff who may view and change connections, nothing else."""
    user = django_user_model.objects.create_user("editor", password="pw-123456!", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_connection", "change_connection"])
    )
    client.force_login(user)
    return client


def form_data(connection: Connection, **changes) -> dict:
    data = {
        "name": connection.name,
        "new_key": "",
        "status": "active",
        "api_version": connection.api_version,
        "api_base": "",
        "webhook_mode": "automatic",
        "new_webhook_secret": "",
    }
    return {**data, **changes}


def change_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def test_staff_who_may_change_a_connection_cannot_point_its_key_at_a_listener(
    editor_client, staff_client, connection, stand_in, listener
):
    response = editor_client.post(
        change_url(connection), form_data(connection, api_base=listener.url)
    )
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert errors["api_base"] == [
        f"{listener.url} is not an allowed Stripe API origin; choose one listed "
        "(STRIPE_API_BASE and STRIPE_API_ALLOWED_BASES in the environment set the list)."
    ]

    staff_client.post(
        reverse("admin:connections_connection_changelist"),
        {"action": "test_connection", "_selected_action": [connection.pk]},
    )
    assert listener.requests == []
    assert [r.path for r in stand_in.requests] == ["/v1/account"]
    connection.refresh_from_db()
    assert (connection.api_base, connection.account_id) == ("", "acct_1Test")


def test_the_base_is_a_choice_of_the_allowed_origins(staff_client, connection, stand_in, settings):
    settings.STRIPE_API_ALLOWED_BASES = [stand_in.url, "https://stripe.internal.example"]
    form = staff_client.get(change_url(connection)).context["adminform"].form
    assert [value for value, _ in form.fields["api_base"].choices] == [
        "",
        stand_in.url,
        "https://stripe.internal.example",
    ]


def test_changing_the_base_needs_the_key_again(staff_client, connection, stand_in):
    response = staff_client.post(
        change_url(connection), form_data(connection, api_base=stand_in.url)
    )
    errors = response.context["adminform"].form.errors
    assert "enter the key again (new_key)" in errors["api_base"][0]
    assert "new_key" in errors
    assert stand_in.requests == []
    connection.refresh_from_db()
    assert connection.api_base == ""


def test_a_new_base_with_the_key_is_checked_there_and_saved(staff_client, connection, stand_in):
    data = form_data(connection, api_base=stand_in.url, new_key=NEW_KEY)
    response = staff_client.post(change_url(connection), data)
    assert response.status_code == 302
    assert [r.headers["Authorization"] for r in stand_in.requests] == [f"Bearer {NEW_KEY}"]
    connection.refresh_from_db()
    assert (connection.api_base, connection.secret_key) == (stand_in.url, NEW_KEY)


@pytest.mark.parametrize(
    "base",
    [
        "{url}/healthz#",
        "{url}?",
        "{url}/v1",
        "http://user:pw@{host}",
        "http://127.0.0.1:9",
    ],
)
def test_the_form_refuses_anything_but_an_allowed_origin_even_with_the_key(
    connection, stand_in, base
):
    value = base.format(url=stand_in.url, host=stand_in.url.split("//")[1])
    form = ConnectionForm(
        data=form_data(connection, api_base=value, new_key=NEW_KEY), instance=connection
    )
    assert not form.is_valid()
    assert "api_base" in form.errors
    assert stand_in.requests == []


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("http://127.0.0.1:9", "Not an allowed Stripe API origin"),
        ("{url}/healthz#", "must be an origin only"),
        ("http://user:pw@{host}", "must not contain user info"),
    ],
)
def test_the_model_refuses_a_base_the_environment_does_not_allow(
    connection, stand_in, base, message
):
    connection.api_base = base.format(url=stand_in.url, host=stand_in.url.split("//")[1])
    with pytest.raises(ValidationError) as caught:
        connection.full_clean()
    assert message in caught.value.message_dict["api_base"][0]
    assert "pw" not in str(caught.value)


def test_test_connection_refuses_a_stored_base_no_longer_allowed(
    staff_client, connection, stand_in, listener
):
    Connection.objects.filter(pk=connection.pk).update(api_base=listener.url)
    response = staff_client.post(
        reverse("admin:connections_connection_changelist"),
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )
    assert "is not one the environment allows" in response.content.decode()
    assert listener.requests == [] and stand_in.requests == []
    connection.refresh_from_db()
    assert connection.secret_key == SECRET_KEY
