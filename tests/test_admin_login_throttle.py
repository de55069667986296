"""Admin logins are locked per username and address after repeated failures (django-axes)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "right-password-123!"


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def log_in(client, password: str, username: str = "boss", address: str = "127.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def expire_lockouts(minutes: int) -> None:
    """Move every recorded failure ``minutes`` into the past (the cool-off counts from it)."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=minutes))


def test_two_hundred_wrong_passwords_lock_the_login_even_for_the_right_password(
    client, admin_user, settings
):
    answers = [log_in(client, f"wrong-{n}").status_code for n in range(200)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert set(answers[limit:]) == {429}

    locked = log_in(client, PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert b"Too many failed logins" in locked.content
    assert b"15 minutes" in locked.content
    assert locked["Retry-After"] == "900"


def test_the_lockout_page_is_the_admin_site_s_page(client, admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        locked = log_in(client, f"wrong-{n}")
    assert locked.status_code == 429
    assert b"Konnectify: Stripe automation" in locked.content
    assert b"Django administration" not in locked.content


def test_the_lock_ends_after_the_cool_off(client, admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"wrong-{n}")
    assert log_in(client, PASSWORD).status_code == 429

    expire_lockouts(settings.AXES_COOLOFF_TIME.seconds // 60 + 1)
    response = log_in(client, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)


def test_a_successful_login_clears_the_count(client, admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, f"wrong-{n}")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, f"again-{n}").status_code == 200
    assert log_in(client, PASSWORD).status_code == 302


def test_the_lock_holds_one_username_from_one_address_only(client, admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"wrong-{n}")
    assert log_in(client, PASSWORD).status_code == 429
    # The real admin elsewhere still gets in: failures cannot lock an account out for all.
    assert log_in(client, PASSWORD, address="203.0.113.9").status_code == 302


def test_behind_a_proxy_the_forwarded_client_address_is_the_one_locked(
    client, admin_user, settings
):
    settings.TRUSTED_PROXY_COUNT = 1

    def through_proxy(password: str, client_address: str):
        return client.post(
            LOGIN,
            {"username": "boss", "password": password},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"198.51.100.1, {client_address}",  # the first is forged
        )

    for n in range(settings.AXES_FAILURE_LIMIT):
        through_proxy(f"wrong-{n}", "192.0.2.7")
    assert through_proxy(PASSWORD, "192.0.2.7").status_code == 429
    assert through_proxy(PASSWORD, "192.0.2.8").status_code == 302
