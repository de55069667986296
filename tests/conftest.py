"""Fixtures shared by the whole suite."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(autouse=True)
def fresh_receiver_cache():
    """Connections changed with QuerySet.update() send no signal: start every test afresh."""
    from connections import receiver_cache

    receiver_cache.forget()
    yield
    receiver_cache.forget()


@pytest.fixture(autouse=True)
def fresh_throttles(request, django_db_blocker):
    """Failed API tokens and the runs chart's counts are kept in the database cache, whose
    table the flush after a transactional test leaves alone: clear it then, as other
    tests' rollback does (the browser and end-to-end tests are transactional through
    their ``transactional_db`` fixture, the others through their marker).
    """
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction")
    if transactional or "transactional_db" in request.fixturenames:
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def fast_password_hashing(settings):
    """A fast hasher for tests that make users or log in many times (hashing is not under test).

    Not autouse: the browser and end-to-end tests' servers check passwords with the real hashers.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def artifacts() -> Path:
    """A folder for logs and screenshots that CI keeps after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-123456!")
    client.force_login(user)
    return client


@pytest.fixture
def staff(django_user_model):
    """A staff user ("editor") without any permission yet."""
    return django_user_model.objects.create_user("editor", password="pw-123456!", is_staff=True)


@pytest.fixture
def staff_as(client, staff):
    """The admin client of ``staff``, holding the given permissions (by codename)."""

    def login(*codenames: str):
        staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(staff)
        return client

    return login
