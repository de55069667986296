"""The alert settings read from the environment: email URL, addresses, chat webhook.

A bad value fails at start naming the variable, never echoing a password or the webhook.
"""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from konnectify.envconfig import Env
from tests.support.processes import BASE_DIR


def test_the_email_url_becomes_djangos_email_settings():
    config = Env({"EMAIL_URL": "smtp+tls://alerts:p%40ss@mail.example.com:587"}).email(
        "EMAIL_URL", "consolemail://"
    )

    assert config == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "alerts",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
    }


def test_without_an_email_url_mail_goes_to_the_console():
    config = Env({}).email("EMAIL_URL", "consolemail://")
    assert config == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_a_bad_email_url_names_the_variable_and_hides_the_password():
    with pytest.raises(ImproperlyConfigured) as caught:
        Env({"EMAIL_URL": "gopher://me:hunter2@mail"}).email("EMAIL_URL", "consolemail://")
    assert "EMAIL_URL=gopher://... is not an email URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_alert_addresses_are_checked_one_by_one():
    env = Env({"ALERT_EMAILS": "ops@example.com, billing@example.com"})
    assert env.emails("ALERT_EMAILS") == ["ops@example.com", "billing@example.com"]
    assert Env({}).emails("ALERT_EMAILS") == []
    with pytest.raises(ImproperlyConfigured, match="ALERT_EMAILS: 'ops' is not an email address"):
        Env({"ALERT_EMAILS": "ops@example.com, ops"}).emails("ALERT_EMAILS")


def test_the_chat_webhook_is_optional_and_never_echoed():
    assert Env({}).optional_url("ALERT_CHAT_WEBHOOK_URL") == ""
    url = "https://hooks.slack.com/services/T0/B0/secret-token"
    assert Env({"ALERT_CHAT_WEBHOOK_URL": url}).optional_url("ALERT_CHAT_WEBHOOK_URL") == url
    with pytest.raises(ImproperlyConfigured) as caught:
        Env({"ALERT_CHAT_WEBHOOK_URL": "hooks.slack.com/secret-token"}).optional_url(
            "ALERT_CHAT_WEBHOOK_URL"
        )
    assert str(caught.value) == "ALERT_CHAT_WEBHOOK_URL is not an http or https URL."


def test_the_product_starts_with_alert_settings_and_refuses_a_bad_digest_window(tmp_path):
    def check(**env):
        clean = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), **env}
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, os; os.environ.setdefault("
                "'DJANGO_SETTINGS_MODULE', 'konnectify.settings'); django.setup(); "
                "from django.conf import settings as s; "
                "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.ALERT_EMAILS, "
                "s.ALERT_DIGEST_MINUTES)",
            ],
            cwd=BASE_DIR,
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )

    good = check(
        EMAIL_URL="smtp://mail.example.com:2525",
        ALERT_EMAILS="ops@example.com",
        ALERT_DIGEST_MINUTES="5",
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == (
        "django.core.mail.backends.smtp.EmailBackend mail.example.com 2525 ['ops@example.com'] 5"
    )
    bad = check(ALERT_DIGEST_MINUTES="0")
    assert bad.returncode != 0
    assert "ALERT_DIGEST_MINUTES=0 must be at least 1" in bad.stderr
