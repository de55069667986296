"""reserve(): one slot per call, exactly 1/rate apart, never booked beyond max_wait."""

from __future__ import annotations

import pytest

from konnectify.platform.models import RateLimitSlot
from konnectify.platform.ratelimit import THROTTLED_TYPE, Throttled, reserve
from stripe_connector.errors import StripeError

pytestmark = pytest.mark.django_db


def test_consecutive_bookings_are_exactly_one_interval_apart(key, clock, sleep):
    waits = [reserve(key, 24, 10, now=clock, sleep=sleep) for _ in range(6)]

    assert waits == pytest.approx([n / 24 for n in range(6)], abs=1e-9)
    assert sleep.calls == pytest.approx(waits[1:], abs=1e-9)  # the first slot is free now


def test_the_next_free_time_is_stored_one_interval_after_the_last_slot(key, clock, sleep):
    for _ in range(3):
        reserve(key, 4, 10, now=clock, sleep=sleep)

    slot = RateLimitSlot.objects.get(key=key)
    assert slot.next_free == pytest.approx(clock.value + 3 / 4, abs=1e-9)


def test_idle_time_is_not_saved_up_for_a_burst(key, clock, sleep):
    reserve(key, 10, 10, now=clock, sleep=sleep)
    clock.value += 60

    waits = [reserve(key, 10, 10, now=clock, sleep=sleep) for _ in range(3)]

    assert waits == pytest.approx([0, 0.1, 0.2], abs=1e-9)


def test_a_slot_beyond_max_wait_raises_throttled_and_books_nothing(key, clock, sleep):
    for _ in range(3):
        reserve(key, 2, 1.0, now=clock, sleep=sleep)  # slots at +0, +0.5, +1.0
    booked = RateLimitSlot.objects.get(key=key).next_free

    with pytest.raises(Throttled) as caught:
        reserve(key, 2, 1.0, now=clock, sleep=sleep)

    assert caught.value.retry_after == pytest.approx(1.5)
    assert RateLimitSlot.objects.get(key=key).next_free == booked
    assert sleep.calls == pytest.approx([0.5, 1.0])  # the refused call did not sleep


def test_throttled_is_a_retryable_stripe_error_the_engine_reschedules(key, clock, sleep):
    reserve(key, 1, 0, now=clock, sleep=sleep)

    with pytest.raises(StripeError) as caught:
        reserve(key, 1, 0, now=clock, sleep=sleep)

    error = caught.value.to_dict()
    assert error["retryable"] is True
    assert error["type"] == THROTTLED_TYPE
    assert error["retry_after"] == pytest.approx(1.0)
    assert error["http_status"] is None
    assert key in error["message"]


def test_a_refused_booking_leaves_the_slot_free_for_the_next_caller(key, clock, sleep):
    reserve(key, 1, 0, now=clock, sleep=sleep)
    with pytest.raises(Throttled):
        reserve(key, 1, 0, now=clock, sleep=sleep)
    clock.value += 1

    assert reserve(key, 1, 0, now=clock, sleep=sleep) == 0


def test_budgets_with_different_keys_do_not_share_slots(key, clock, sleep):
    reserve(key, 1, 10, now=clock, sleep=sleep)

    assert reserve(key + ":other", 1, 10, now=clock, sleep=sleep) == 0
    assert reserve(key, 1, 10, now=clock, sleep=sleep) == pytest.approx(1.0)


def test_without_a_clock_it_books_on_the_database_clock(key, sleep):
    # One slot per 1000 s: the second booking waits almost the whole interval,
    # however slowly this test runs.
    first = reserve(key, 0.001, 2000, sleep=sleep)
    second = reserve(key, 0.001, 2000, sleep=sleep)

    assert first == 0
    assert 900 < second <= 1000
    assert sleep.calls == [second]


@pytest.mark.parametrize(("rate", "max_wait"), [(0, 1), (-5, 1), (10, -1)])
def test_it_refuses_a_rate_or_max_wait_that_makes_no_sense(key, clock, sleep, rate, max_wait):
    with pytest.raises(ValueError):
        reserve(key, rate, max_wait, now=clock, sleep=sleep)

    assert not RateLimitSlot.objects.filter(key=key).exists()
