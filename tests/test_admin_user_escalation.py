"""In admin, only a superuser grants rights: staff cannot raise themselves or anyone else.

Django's stock UserAdmin and GroupAdmin let "Can change group" add any permission to
one's own group and "Can change user" tick is_superuser on oneself.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from tests.api.conftest import grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

PASSWORD = "pw-123456!"
NEW_PASSWORD = "An0ther-long-passphrase!"


@pytest.fixture
def mallory(django_user_model):
    return django_user_model.objects.create_user("mallory", password=PASSWORD, is_staff=True)


@pytest.fixture
def mallory_as(client, mallory):
    """The admin client of staff user ``mallory``, holding the given permissions."""

    def login(*codenames: str):
        grant(mallory, *codenames)
        client.force_login(mallory)
        return client

    return login


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def operators() -> Group:
    """A group that may spend connections' keys."""
    group = Group.objects.create(name="operators")
    group.permissions.add(Permission.objects.get(codename="use_connection"))
    return group


def permission_ids(*codenames: str) -> list[int]:
    return list(Permission.objects.filter(codename__in=codenames).values_list("pk", flat=True))


def user_form(user, **fields) -> dict:
    """A change form POST for ``user`` that keeps what it has, with ``fields`` on top."""
    joined = user.date_joined
    data = {
        "username": user.username,
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": joined.strftime("%H:%M:%S"),
    }
    data.update(fields)
    return data


def change_url(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def new_password() -> dict:
    return {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}


# --- groups ---------------------------------------------------------------------------------


def test_a_group_changer_cannot_grant_permissions_to_their_own_group(client, mallory):
    group = Group.objects.create(name="support")
    group.permissions.add(*Permission.objects.filter(codename__in=["change_group", "view_group"]))
    mallory.groups.add(group)
    client.force_login(mallory)

    wanted = permission_ids("use_connection", "change_user", "change_group", "view_group")
    response = client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "support", "permissions": wanted},
    )

    assert response.status_code == 302  # the name is saved; the permissions are not its to set
    assert set(group.permissions.values_list("codename", flat=True)) == {
        "change_group",
        "view_group",
    }
    mallory = type(mallory).objects.get(pk=mallory.pk)
    assert not mallory.has_perm("connections.use_connection")
    assert not mallory.has_perm("auth.change_user")


def test_a_group_adder_creates_groups_without_permissions(mallory_as):
    client = mallory_as("add_group", "change_group", "view_group")

    response = client.post(
        reverse("admin:auth_group_add"),
        {"name": "escalators", "permissions": permission_ids("use_connection")},
    )

    assert response.status_code == 302
    assert not Group.objects.get(name="escalators").permissions.exists()


def test_the_permissions_of_a_group_are_read_only_for_non_superusers(mallory_as, operators):
    client = mallory_as("change_group", "view_group")

    page = client.get(reverse("admin:auth_group_change", args=[operators.pk])).content.decode()

    assert 'name="permissions"' not in page
    assert 'name="name"' in page


# --- users ----------------------------------------------------------------------------------


def test_a_user_changer_cannot_make_themselves_superuser(mallory_as, mallory):
    client = mallory_as("change_user", "view_user")

    response = client.post(
        change_url(mallory), user_form(mallory, is_staff="on", is_superuser="on")
    )

    assert response.status_code == 302
    mallory.refresh_from_db()
    assert not mallory.is_superuser


def test_a_user_changer_cannot_add_themselves_to_a_group_or_permissions(
    mallory_as, mallory, operators
):
    client = mallory_as("change_user", "view_user")

    response = client.post(
        change_url(mallory),
        user_form(
            mallory,
            is_staff="on",
            groups=[operators.pk],
            user_permissions=permission_ids("use_connection", "change_group"),
        ),
    )

    assert response.status_code == 302
    mallory = type(mallory).objects.get(pk=mallory.pk)
    assert not mallory.groups.exists()
    assert not mallory.has_perm("connections.use_connection")
    assert not mallory.has_perm("auth.change_group")


def test_a_user_changer_cannot_make_another_user_staff(mallory_as, django_user_model):
    client = mallory_as("change_user", "view_user")
    plain = django_user_model.objects.create_user("plain", password=PASSWORD)

    client.post(change_url(plain), user_form(plain, is_staff="on", is_superuser="on"))

    plain.refresh_from_db()
    assert not plain.is_staff and not plain.is_superuser


def test_the_granting_fields_are_read_only_for_non_superusers(mallory_as, mallory):
    client = mallory_as("change_user", "view_user")

    page = client.get(change_url(mallory)).content.decode()

    assert 'name="username"' in page
    for field in ("is_superuser", "is_staff", "groups", "user_permissions"):
        assert f'name="{field}"' not in page


def test_a_user_adder_creates_users_without_any_rights(mallory_as, django_user_model, operators):
    client = mallory_as("add_user", "change_user", "view_user")

    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "sock",
            **new_password(),
            "is_superuser": "on",
            "is_staff": "on",
            "groups": [operators.pk],
            "user_permissions": permission_ids("use_connection"),
        },
    )

    assert response.status_code == 302
    sock = django_user_model.objects.get(username="sock")
    assert not sock.is_superuser and not sock.is_staff
    assert not sock.groups.exists() and not sock.user_permissions.exists()


def test_a_user_changer_cannot_set_a_superusers_password(mallory_as, root):
    client = mallory_as("change_user", "view_user")

    assert client.get(password_url(root)).status_code == 403
    assert client.post(password_url(root), new_password()).status_code == 403

    root.refresh_from_db()
    assert root.check_password(PASSWORD)


def test_a_user_changer_cannot_change_or_delete_a_superuser(mallory_as, root):
    client = mallory_as("change_user", "view_user", "delete_user")

    changed = client.post(change_url(root), user_form(root, username="pwned"))
    deleted = client.post(reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"})
    bulk = {"action": "delete_selected", "_selected_action": [root.pk], "post": "yes"}
    deleted_in_bulk = client.post(reverse("admin:auth_user_changelist"), bulk)

    assert changed.status_code == 403
    assert deleted.status_code == 403
    assert deleted_in_bulk.status_code == 403
    root.refresh_from_db()
    assert root.username == "root"


def test_a_user_changer_cannot_take_over_a_stronger_account(
    mallory_as, django_user_model, operators
):
    """A new password is a way in: not for an account holding rights the changer lacks,
    even one deactivated for now (reactivating it is one more change away)."""
    client = mallory_as("change_user", "view_user")
    operator = django_user_model.objects.create_user(
        "operator", password=PASSWORD, is_staff=True, is_active=False
    )
    operator.groups.add(operators)

    assert client.post(password_url(operator), new_password()).status_code == 403
    assert client.post(change_url(operator), user_form(operator)).status_code == 403

    operator.refresh_from_db()
    assert operator.check_password(PASSWORD) and not operator.is_active


def test_a_user_changer_may_reset_the_password_of_a_weaker_account(mallory_as, django_user_model):
    client = mallory_as("change_user", "view_user")
    plain = django_user_model.objects.create_user("plain", password=PASSWORD)

    assert client.post(password_url(plain), new_password()).status_code == 302

    plain.refresh_from_db()
    assert plain.check_password(NEW_PASSWORD)


# --- superusers -----------------------------------------------------------------------------


def test_a_superuser_still_grants_everything(client, root, mallory, operators, django_user_model):
    client.force_login(root)
    other_root = django_user_model.objects.create_superuser("root2", "r2@example.com", PASSWORD)

    client.post(
        change_url(mallory),
        user_form(
            mallory,
            is_staff="on",
            is_superuser="on",
            groups=[operators.pk],
            user_permissions=permission_ids("change_user"),
        ),
    )
    client.post(
        reverse("admin:auth_group_change", args=[operators.pk]),
        {"name": "operators", "permissions": permission_ids("use_connection", "change_group")},
    )
    reset = client.post(password_url(other_root), new_password())

    mallory.refresh_from_db()
    assert mallory.is_superuser and mallory.is_staff
    assert list(mallory.groups.all()) == [operators]
    assert set(mallory.user_permissions.values_list("codename", flat=True)) == {"change_user"}
    assert set(operators.permissions.values_list("codename", flat=True)) == {
        "use_connection",
        "change_group",
    }
    assert reset.status_code == 302
    other_root.refresh_from_db()
    assert other_root.check_password(NEW_PASSWORD)


def test_a_save_carrying_a_grant_is_refused_past_the_form(rf, mallory, django_user_model):
    """The server-side check behind the read-only fields, should a form ever carry them."""
    grant(mallory, "change_user", "view_user")
    request = rf.post("/")
    request.user = django_user_model.objects.get(pk=mallory.pk)
    model_admin = admin.site.get_model_admin(django_user_model)
    mallory.is_superuser = True

    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, mallory, form=None, change=True)

    mallory.refresh_from_db()
    assert not mallory.is_superuser
