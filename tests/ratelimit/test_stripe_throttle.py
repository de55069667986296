"""stripe_throttle(): one budget per account and mode, and a search budget for search paths."""

from __future__ import annotations

import pytest
from django.test import override_settings

from konnectify.platform.models import RateLimitSlot
from konnectify.platform.ratelimit import Throttled, stripe_throttle

pytestmark = pytest.mark.django_db


def test_a_test_mode_account_is_paced_at_the_test_rate(key, clock, sleep):
    throttle = stripe_throttle(key, "test", now=clock, sleep=sleep)

    for _ in range(4):
        throttle("POST", "/v1/customers")

    assert sleep.calls == pytest.approx([1 / 24, 2 / 24, 3 / 24], abs=1e-9)
    assert list(RateLimitSlot.objects.filter(key__contains=key).values_list("key", flat=True)) == [
        f"stripe:test:{key}"
    ]


def test_a_live_mode_account_is_paced_at_the_live_rate(key, clock, sleep):
    throttle = stripe_throttle(key, "live", now=clock, sleep=sleep)

    for _ in range(3):
        throttle("GET", "/v1/customers/cus_1")

    assert sleep.calls == pytest.approx([1 / 95, 2 / 95], abs=1e-9)
    assert RateLimitSlot.objects.filter(key=f"stripe:live:{key}").exists()


def test_reads_and_writes_share_one_budget(key, clock, sleep):
    throttle = stripe_throttle(key, "test", now=clock, sleep=sleep)

    throttle("POST", "/v1/customers")
    throttle("GET", "/v1/customers/cus_1")
    throttle("DELETE", "/v1/customers/cus_1")

    assert sleep.calls == pytest.approx([1 / 24, 2 / 24], abs=1e-9)


def test_a_search_books_the_search_budget_and_the_account_budget(key, clock, sleep):
    def sleep_and_let_time_pass(seconds: float) -> None:
        sleep(seconds)
        clock.value += seconds

    started = clock.value
    throttle = stripe_throttle(key, "test", now=clock, sleep=sleep_and_let_time_pass)

    throttle("GET", "/v1/customers/search")
    throttle("GET", "/v1/payment_intents/search")

    keys = set(RateLimitSlot.objects.filter(key__contains=key).values_list("key", flat=True))
    assert keys == {f"stripe:test:{key}", f"stripe:test:{key}:search"}
    search = RateLimitSlot.objects.get(key=f"stripe:test:{key}:search")
    assert search.next_free == pytest.approx(started + 2 / 19, abs=1e-9)
    # The second search waits for its search slot (1/19 s); by then the account's
    # next slot (1/24 s after the first call) has passed.
    assert sleep.calls == pytest.approx([1 / 19], abs=1e-9)


def test_paths_that_only_look_like_search_use_the_account_budget(key, clock, sleep):
    throttle = stripe_throttle(key, "test", now=clock, sleep=sleep)

    throttle("GET", "/v1/customers/search_for_me")
    throttle("GET", "/v1/customers/cus_search")

    assert not RateLimitSlot.objects.filter(key=f"stripe:test:{key}:search").exists()


@override_settings(STRIPE_RATE_LIMIT_TEST=5, STRIPE_RATE_LIMIT_SEARCH=2)
def test_rates_come_from_settings(key, clock, sleep):
    throttle = stripe_throttle(key, "test", now=clock, sleep=sleep)

    throttle("POST", "/v1/customers")
    throttle("POST", "/v1/customers")
    throttle("GET", "/v1/invoices/search")

    assert sleep.calls == pytest.approx([1 / 5, 2 / 5], abs=1e-9)
    search = RateLimitSlot.objects.get(key=f"stripe:test:{key}:search")
    assert search.next_free == pytest.approx(clock.value + 1 / 2, abs=1e-9)


def test_a_call_too_far_ahead_raises_throttled(key, clock, sleep):
    throttle = stripe_throttle(key, "test", max_wait_seconds=0.05, now=clock, sleep=sleep)
    throttle("POST", "/v1/customers")
    throttle("POST", "/v1/customers")  # 1/24 s: within 0.05 s

    with pytest.raises(Throttled) as caught:
        throttle("POST", "/v1/customers")

    assert caught.value.retry_after == pytest.approx(2 / 24)


def test_it_refuses_an_unknown_mode(key):
    with pytest.raises(ValueError, match="mode"):
        stripe_throttle(key, "sandbox")
