"""Backoff: exponential with equal jitter, Retry-After as a floor, never past 24 h."""

from datetime import UTC, datetime, timedelta

from workflows.retry import RetryPolicy

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=5)


def test_the_ceiling_doubles_and_is_capped():
    assert [POLICY.ceiling(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_equal_jitter_picks_between_half_the_ceiling_and_the_ceiling():
    low = POLICY.next_attempt_at(attempts=3, created_at=CREATED, now=CREATED, rand=lambda: 0.0)
    high = POLICY.next_attempt_at(attempts=3, created_at=CREATED, now=CREATED, rand=lambda: 0.999)
    assert low == CREATED + timedelta(seconds=4)
    assert timedelta(seconds=7.9) < high - CREATED < timedelta(seconds=8)


def test_the_default_attempts_outlast_a_one_minute_outage():
    policy = RetryPolicy()  # 2 s base, 8 attempts
    now = CREATED
    for attempts in range(1, policy.max_attempts):
        now = policy.next_attempt_at(attempts=attempts, created_at=CREATED, now=now, rand=lambda: 0)
    assert now - CREATED >= timedelta(seconds=127)


def test_retry_after_is_a_floor():
    when = POLICY.next_attempt_at(
        attempts=1, created_at=CREATED, now=CREATED, retry_after=30, rand=lambda: 0.5
    )
    assert when == CREATED + timedelta(seconds=30)


def test_it_gives_up_after_the_maximum_attempts():
    assert POLICY.next_attempt_at(attempts=5, created_at=CREATED, now=CREATED) is None


def test_it_never_retries_past_the_idempotency_window():
    late = CREATED + timedelta(hours=23, minutes=56)
    assert (
        POLICY.next_attempt_at(attempts=1, created_at=CREATED, now=late, rand=lambda: 0.0) is None
    )


def test_settings_configure_the_policy(settings):
    settings.WORKFLOW_RETRY_BASE_SECONDS = 1
    settings.WORKFLOW_RETRY_CAP_SECONDS = 10
    settings.WORKFLOW_RETRY_MAX_ATTEMPTS = 3
    assert RetryPolicy.from_settings() == RetryPolicy(1, 10, 3)
