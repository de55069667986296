"""STRIPE_RATE_LIMIT_*: defaults just under Stripe's limits; bad values stop start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import BASE_DIR


def test_the_defaults_sit_just_under_stripes_published_limits(settings):
    assert settings.STRIPE_RATE_LIMIT_TEST == 24  # Stripe: 25/s in test mode
    assert settings.STRIPE_RATE_LIMIT_LIVE == 95  # Stripe: 100/s in live mode
    assert settings.STRIPE_RATE_LIMIT_SEARCH == 19  # Stripe: 20/s for search


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "STRIPE_RATE_LIMIT_LIVE=0 must be at least 1"), ("fast", "is not a whole number")],
)
def test_a_rate_limit_that_is_not_a_positive_number_stops_startup(tmp_path, value, message):
    clean = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "STRIPE_RATE_LIMIT_LIVE": value}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert message in result.stderr
