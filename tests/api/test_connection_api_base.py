"""A connection's key goes only to a Stripe API origin the environment allows."""

import pytest

from connections.models import Connection
from tests.api.conftest import NEW_KEY, SECRET_KEY, account_json, field_errors, grant, token_client
from tests.listener import recording_server

pytestmark = pytest.mark.django_db

LIST = "/api/v1/connections/"
STAND_IN_ACCOUNT = account_json(id="acct_1Api")


def detail(connection) -> str:
    return f"{LIST}{connection.pk}/"


@pytest.fixture
def stand_in(settings):
    """The Stripe origin the environment configures: a local stand-in answering /v1/account."""
    with recording_server(STAND_IN_ACCOUNT) as server:
        settings.STRIPE_API_BASE = server.url
        settings.STRIPE_API_ALLOWED_BASES = [server.url]
        yield server


@pytest.fixture
def listener():
    """The attacker's listener: it must never receive a request."""
    with recording_server(account_json(id="acct_1Attacker")) as server:
        yield server


@pytest.fixture
def editor(django_user_model):
    """May view and change connections, not use them."""
    user = django_user_model.objects.create_user("editor", password="x-123456!")
    grant(user, "view_connection", "change_connection")
    return token_client(user)


def test_a_user_who_may_change_a_connection_cannot_send_its_key_to_a_listener(
    editor, superuser_api, connection, stand_in, listener
):
    response = editor.patch(detail(connection), {"api_base": listener.url}, format="json")
    assert response.status_code == 400
    assert field_errors(response)["api_base"].startswith("Not an allowed Stripe API origin")

    editor.post(f"{detail(connection)}test/")
    checked = superuser_api.post(f"{detail(connection)}test/")

    assert listener.requests == []
    assert checked.json()["ok"] is True
    # Whoever ran it (the editor may not, once using needs its own permission), the key
    # went to the configured origin only.
    assert stand_in.requests and {r.path for r in stand_in.requests} == {"/v1/account"}
    connection.refresh_from_db()
    assert (connection.api_base, connection.account_id) == ("", "acct_1Api")


@pytest.mark.parametrize(
    "base",
    [
        "{stand_in}/healthz#",  # swallows the action's path into a fragment
        "{stand_in}#",
        "{stand_in}/?",
        "{stand_in}/?x=1",
        "{stand_in}/v1",
        "https://user:pw@{host}",
        "http://{host}@127.0.0.1:9",
        "http://127.0.0.1:9",
        "ftp://{host}",
        "not a url",
    ],
)
def test_a_base_that_is_not_an_allowed_origin_is_refused_naming_api_base(
    superuser_api, connection, stand_in, base
):
    value = base.format(stand_in=stand_in.url, host=stand_in.url.split("//")[1])
    response = superuser_api.patch(
        detail(connection), {"api_base": value, "secret_key": NEW_KEY}, format="json"
    )
    assert response.status_code == 400
    assert "api_base" in field_errors(response)
    assert stand_in.requests == []
    connection.refresh_from_db()
    assert (connection.api_base, connection.secret_key) == ("", SECRET_KEY)


def test_changing_api_base_needs_the_key_again_in_the_same_request(
    superuser_api, connection, stand_in, settings
):
    settings.STRIPE_API_ALLOWED_BASES = [stand_in.url, "https://api.stripe.com"]
    response = superuser_api.patch(
        detail(connection), {"api_base": "https://api.stripe.com"}, format="json"
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert "enter the key again (secret_key)" in errors["api_base"]
    assert "secret_key" in errors
    connection.refresh_from_db()
    assert connection.api_base == ""


def test_every_broken_save_rule_is_named_at_once_as_in_admin(
    superuser_api, connection, stand_in, settings
):
    settings.STRIPE_API_ALLOWED_BASES = [stand_in.url, "https://api.stripe.com"]
    response = superuser_api.patch(
        detail(connection),
        {"api_base": "https://api.stripe.com", "webhook_secret": "whsec_0123456789abcdefgh"},
        format="json",
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert "Only manual mode takes a pasted secret" in errors["webhook_secret"]
    assert "enter the key again (secret_key)" in errors["api_base"]
    assert stand_in.requests == []


def test_a_new_base_with_the_key_is_checked_there_and_stored_as_an_origin(
    superuser_api, connection, stand_in, settings
):
    with recording_server(account_json(id="acct_2")) as other:
        settings.STRIPE_API_ALLOWED_BASES = [stand_in.url, other.url]
        response = superuser_api.patch(
            detail(connection), {"api_base": f"{other.url}/", "secret_key": NEW_KEY}, format="json"
        )
    assert response.status_code == 200, response.content
    assert [r.headers["Authorization"] for r in other.requests] == [f"Bearer {NEW_KEY}"]
    connection.refresh_from_db()
    assert (connection.api_base, connection.account_id) == (other.url, "acct_2")


def test_an_unchanged_base_needs_no_key(superuser_api, connection, stand_in):
    Connection.objects.filter(pk=connection.pk).update(api_base=stand_in.url)
    response = superuser_api.patch(
        detail(connection), {"api_base": f"{stand_in.url}/", "name": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"


def test_a_stored_base_the_environment_no_longer_allows_sends_nothing(
    superuser_api, connection, stand_in, listener
):
    Connection.objects.filter(pk=connection.pk).update(api_base=f"{listener.url}/healthz#")

    checked = superuser_api.post(f"{detail(connection)}test/").json()
    executed = superuser_api.post(
        f"{detail(connection)}actions/get_account/", {"input": {}}, format="json"
    )

    assert checked["ok"] is False
    assert "must be an origin only" in checked["message"]
    assert checked["connection"]["status"] == "active"  # the key itself may be fine
    assert executed.status_code == 502
    assert executed.json()["stripe"]["type"] == "api_base_not_allowed"
    assert listener.requests == [] and stand_in.requests == []


def test_test_connection_does_not_move_the_connection_to_another_account(
    superuser_api, connection, settings
):
    with recording_server(account_json(id="acct_1Other")) as other:
        settings.STRIPE_API_BASE = other.url
        body = superuser_api.post(f"{detail(connection)}test/").json()
    assert body["ok"] is False
    assert "acct_1Other, not acct_1Api" in body["message"]
    connection.refresh_from_db()
    assert (connection.account_id, connection.account_name) == ("acct_1Api", "API Shop")
    assert connection.status == Connection.Status.INVALID
