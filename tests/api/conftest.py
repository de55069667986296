"""API test helpers: clients authenticated by token, with or without permissions."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

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
