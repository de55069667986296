"""API tokens: shown once, stored hashed, revocable, optionally read-only."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from konnectify.platform.api.permissions import ModelPermissions
from konnectify.platform.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


class TokenListView(APIView):
    """A model-backed view for the tests: lists the caller's tokens."""

    permission_classes = [ModelPermissions]
    queryset = ApiToken.objects.all()

    def get(self, request):
        return Response({"user": request.user.username})

    def post(self, request):
        return Response({"ok": True}, status=201)


urlpatterns = [path("probe/", TokenListView.as_view())]


@pytest.fixture
def user(django_user_model):
    user = django_user_model.objects.create_user("integration", password="x-123456!")
    user.user_permissions.add(
        Permission.objects.get(codename="view_apitoken"),
        Permission.objects.get(codename="add_apitoken"),
    )
    return user


def call(method, raw=None):
    client = APIClient()
    if raw:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    with override_settings(ROOT_URLCONF=__name__):
        return getattr(client, method)("/probe/")


def test_a_token_authenticates_as_its_user_and_records_use(user):
    token, raw = ApiToken.issue(name="sync", user=user)
    response = call("get", raw)
    assert response.status_code == 200
    assert response.json() == {"user": "integration"}
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_only_the_hash_is_stored(user):
    token, raw = ApiToken.issue(name="sync", user=user)
    assert raw.startswith("kfy_") and len(raw) > 40
    assert token.token_hash == hash_token(raw)
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())


def test_without_credentials_the_answer_is_401_in_the_error_format():
    response = call("get")
    assert response.status_code == 401
    assert response.json()["type"] == "not_authenticated"


def test_a_wrong_or_revoked_token_is_refused(user):
    token, raw = ApiToken.issue(name="sync", user=user)
    assert call("get", raw + "x").status_code == 401
    token.revoke()
    assert call("get", raw).status_code == 401


def test_a_token_of_an_inactive_user_is_refused(user):
    _, raw = ApiToken.issue(name="sync", user=user)
    user.is_active = False
    user.save()
    assert call("get", raw).status_code == 401


def test_a_read_only_token_may_read_but_not_write(user):
    _, raw = ApiToken.issue(name="reporting", user=user, read_only=True)
    assert call("get", raw).status_code == 200
    response = call("post", raw)
    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied"


def test_model_permissions_decide_reads_and_writes(django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x-123456!")
    _, raw = ApiToken.issue(name="sync", user=nobody)
    assert call("get", raw).status_code == 403
    assert call("post", raw).status_code == 403


def test_the_command_prints_the_token_once(user):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", user="integration", name="cli", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert ApiToken.find(raw).name == "cli"
    assert raw not in err.getvalue()


def test_the_command_names_an_unknown_user():
    with pytest.raises(CommandError, match="--user: no user named 'ghost'"):
        call_command("create_api_token", user="ghost", name="cli")


def test_admin_shows_a_new_token_once_and_can_revoke_it(staff_client, user):
    response = staff_client.post(
        "/admin/konnectify/apitoken/add/",
        {"name": "from admin", "user": user.pk, "read_only": "on"},
        follow=True,
    )
    page = response.content.decode()
    token = ApiToken.objects.get(name="from admin")
    raw = page.split("it is not shown again: ")[1].split("<")[0].strip()
    assert ApiToken.find(raw) == token and token.read_only
    listing = staff_client.get("/admin/konnectify/apitoken/").content.decode()
    assert raw not in listing
    staff_client.post(
        "/admin/konnectify/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.is_revoked


@pytest.fixture
def token_clerk(client, django_user_model):
    """Staff who may only add and view API tokens (and so uses admin's token pages)."""
    clerk = django_user_model.objects.create_user("clerk", password="x-123456!", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_apitoken"),
        Permission.objects.get(codename="add_apitoken"),
    )
    client.force_login(clerk)
    return clerk


def test_in_admin_a_non_superuser_cannot_mint_a_token_for_a_superuser(
    client, token_clerk, django_user_model
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x-123456!")

    client.post("/admin/konnectify/apitoken/add/", {"name": "escalate", "user": root.pk})

    token = ApiToken.objects.get(name="escalate")
    assert token.user == token_clerk
    assert not ApiToken.objects.filter(user=root).exists()


def test_in_admin_a_non_superuser_s_new_token_shows_themselves_as_its_user(client, token_clerk):
    page = client.get("/admin/konnectify/apitoken/add/").content.decode()

    user_field = page.split('class="form-row field-user')[1].split('class="form-row')[0]
    assert 'name="user"' not in user_field
    assert ">clerk<" in user_field


def test_in_admin_a_non_superuser_sees_and_revokes_only_their_own_tokens(client, token_clerk, user):
    theirs, _ = ApiToken.issue(name="someone else's", user=user)
    own, _ = ApiToken.issue(name="my own", user=token_clerk)
    token_clerk.user_permissions.add(Permission.objects.get(codename="change_apitoken"))

    listing = client.get("/admin/konnectify/apitoken/").content.decode()
    assert "my own" in listing and "someone else" not in listing
    assert client.get(f"/admin/konnectify/apitoken/{theirs.pk}/change/").status_code == 302
    client.post(
        "/admin/konnectify/apitoken/", {"action": "revoke", "_selected_action": [theirs.pk, own.pk]}
    )
    theirs.refresh_from_db()
    own.refresh_from_db()
    assert not theirs.is_revoked and own.is_revoked


def test_in_admin_revoking_needs_the_change_permission(client, token_clerk):
    own, _ = ApiToken.issue(name="my own", user=token_clerk)
    response = client.post(
        "/admin/konnectify/apitoken/", {"action": "revoke", "_selected_action": [own.pk]}
    )
    assert response.status_code == 403
    own.refresh_from_db()
    assert not own.is_revoked
