"""Settings come from the environment; defaults work, bad values fail loudly."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from konnectify.envconfig import Env
from tests.support.processes import BASE_DIR


def django_check(tmp_path, **env):
    """Run ``manage.py check`` in a clean environment with only ``env`` set."""
    clean = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestEnvReaders:
    def test_it_reads_booleans_strictly(self):
        assert Env({"X": "true"}).bool("X", False) is True
        assert Env({"X": "off"}).bool("X", True) is False
        with pytest.raises(ImproperlyConfigured, match="X='maybe' is not a boolean"):
            Env({"X": "maybe"}).bool("X", False)

    def test_it_uses_the_default_for_missing_and_blank_values(self):
        assert Env({}).int("N", 7) == 7
        assert Env({"N": "  "}).int("N", 7) == 7

    def test_it_names_the_variable_of_a_bad_number(self):
        with pytest.raises(ImproperlyConfigured, match="Q_TIMEOUT='ten'"):
            Env({"Q_TIMEOUT": "ten"}).int("Q_TIMEOUT", 60)
        with pytest.raises(ImproperlyConfigured, match="Q_WORKERS=0 must be at least 1"):
            Env({"Q_WORKERS": "0"}).int("Q_WORKERS", 2, minimum=1)

    def test_it_refuses_a_url_without_scheme_or_host(self):
        with pytest.raises(ImproperlyConfigured, match="STRIPE_API_BASE"):
            Env({"STRIPE_API_BASE": "api.stripe.com"}).url("STRIPE_API_BASE", "")
        assert Env({}).url("U", "https://x.test/") == "https://x.test"

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("api.stripe.com", "must start with https://"),
            ("https://api.stripe.com/v1", "without a path"),
            ("http://127.0.0.1:8420/healthz#", "no '\\?' query, '#' fragment"),
            ("http://127.0.0.1:8420?", "no '\\?' query, '#' fragment"),
            ("https://u:hunter2@api.stripe.com", "must not contain user info"),
        ],
    )
    def test_an_api_base_must_be_a_bare_origin(self, value, message):
        with pytest.raises(ImproperlyConfigured, match=f"STRIPE_API_BASE: .*{message}") as info:
            Env({"STRIPE_API_BASE": value}).origin("STRIPE_API_BASE", "https://api.stripe.com")
        assert "hunter2" not in str(info.value)

    def test_allowed_bases_are_normalised_origins(self):
        env = Env({"B": "http://127.0.0.1:8420/, HTTPS://API.Stripe.com:443"})
        assert env.origins("B", []) == ["http://127.0.0.1:8420", "https://api.stripe.com"]
        assert Env({}).origins("B", ["https://api.stripe.com/"]) == ["https://api.stripe.com"]
        with pytest.raises(ImproperlyConfigured, match=r"B: 'http://x/y' .*without a path"):
            Env({"B": "https://api.stripe.com,http://x/y"}).origins("B", [])
        with pytest.raises(ImproperlyConfigured, match="B must list at least one origin"):
            Env({"B": " , "}).origins("B", [])

    def test_it_refuses_an_unknown_database_scheme_without_echoing_the_password(self):
        with pytest.raises(ImproperlyConfigured, match="DATABASE_URL") as info:
            Env({"DATABASE_URL": "oracle2://u:hunter2@h/db"}).database("DATABASE_URL", "")
        assert "hunter2" not in str(info.value)

    def test_it_splits_lists_on_commas(self):
        assert Env({"L": "a, b,,c"}).list("L") == ["a", "b", "c"]


class TestProcessStartup:
    def test_defaults_work_with_no_environment_at_all(self, tmp_path):
        result = django_check(tmp_path)
        assert result.returncode == 0, result.stderr
        # The embedded setup generated its own secrets, private to the owner.
        key_file = tmp_path / "data" / "field_encryption.key"
        assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"

    def test_a_bad_boolean_stops_startup(self, tmp_path):
        result = django_check(tmp_path, DEBUG="yes please")
        assert result.returncode != 0
        assert "DEBUG='yes please' is not a boolean" in result.stderr

    def test_a_malformed_allowed_api_base_stops_startup(self, tmp_path):
        result = django_check(tmp_path, STRIPE_API_ALLOWED_BASES="http://127.0.0.1:8420/x#")
        assert result.returncode != 0
        assert "STRIPE_API_ALLOWED_BASES: 'http://127.0.0.1:8420/x#'" in result.stderr

    def test_production_without_an_encryption_key_is_an_error(self, tmp_path):
        result = django_check(tmp_path, DEBUG="false", SECRET_KEY="x" * 50)
        assert result.returncode != 0
        assert "konnectify.E002" in result.stderr

    def test_production_without_a_secret_key_is_an_error(self, tmp_path):
        result = django_check(tmp_path, DEBUG="false")
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    def test_a_malformed_encryption_key_is_an_error(self, tmp_path):
        result = django_check(tmp_path, FIELD_ENCRYPTION_KEYS="not-a-key")
        assert "konnectify.E003" in result.stderr

    def test_a_queue_timeout_not_below_retry_is_an_error(self, tmp_path):
        result = django_check(tmp_path, Q_TIMEOUT="300", Q_RETRY="300")
        assert result.returncode != 0
        assert "konnectify.E001" in result.stderr

    def test_sqlite_in_production_warns(self, tmp_path):
        key = "x" * 43 + "="
        result = django_check(tmp_path, DEBUG="false", SECRET_KEY="s" * 50,
                              FIELD_ENCRYPTION_KEYS=key)  # fmt: skip
        assert "konnectify.W001" in result.stderr


def test_an_inline_retry_wait_near_the_task_timeout_is_an_error(tmp_path):
    result = django_check(tmp_path, Q_TIMEOUT="20", WORKFLOW_RETRY_INLINE_SECONDS="10")
    assert result.returncode != 0
    assert "konnectify.E004" in result.stderr


def test_a_task_timeout_shorter_than_one_stripe_attempt_is_an_error(tmp_path):
    # The defaults: 10 s to connect + 80 s to read + 5 s rate limiter + 15 s inline + 5 s.
    result = django_check(tmp_path, Q_TIMEOUT="60")
    assert result.returncode != 0
    assert "konnectify.E005" in result.stderr
    assert "Q_TIMEOUT (60s) must be at least 115s" in result.stderr


def test_shorter_stripe_timeouts_let_a_shorter_task_timeout_pass(tmp_path):
    result = django_check(
        tmp_path, Q_TIMEOUT="60", STRIPE_CONNECT_TIMEOUT="5", STRIPE_READ_TIMEOUT="30"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("timeout", "connect", "read", "inline", "refused"),
    [
        (120, 10, 80, 15, False),  # the defaults
        (114, 10, 80, 15, True),
        (115, 10, 80, 15, False),  # exactly one attempt fits
        (115, 10, 81, 15, True),  # a longer read timeout
        (115, 11, 80, 15, True),  # a longer connect timeout
        (115, 10, 80, 16, True),  # a longer inline retry wait
    ],
)
def test_the_task_timeout_must_hold_one_whole_attempt(
    settings, timeout, connect, read, inline, refused
):
    from konnectify.checks import check_attempt_fits_the_task

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": timeout}
    settings.STRIPE_CONNECT_TIMEOUT, settings.STRIPE_READ_TIMEOUT = connect, read
    settings.WORKFLOW_RETRY_INLINE_SECONDS = inline

    ids = [error.id for error in check_attempt_fits_the_task(None)]
    assert ids == (["konnectify.E005"] if refused else [])
