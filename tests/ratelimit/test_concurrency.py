"""Bookings from many threads at once (each with its own database connection) never collide."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from konnectify.platform.models import RateLimitSlot
from konnectify.platform.ratelimit import reserve

THREADS = 8
BOOKINGS_PER_THREAD = 5
# A microsecond: 40 additions of 1/25 to a time near 1e6 s gather float rounding
# far below it, while neighbouring slots are 40 000 microseconds apart.
TOLERANCE = 1e-6


def book_from_threads(key: str, clock, rate: float) -> list[float]:
    """Every thread books at the same fixed moment, so each wait names its slot."""
    waits: list[float] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(BOOKINGS_PER_THREAD):
                waits.append(reserve(key, rate, 1e6, now=clock, sleep=lambda s: None))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's connection; the test database is dropped later

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return waits


@pytest.mark.django_db(transaction=True)
def test_threads_booking_at_once_each_get_a_slot_of_their_own(key, clock):
    waits = book_from_threads(key, clock, rate=25)

    total = THREADS * BOOKINGS_PER_THREAD
    assert sorted(waits) == pytest.approx([n / 25 for n in range(total)], abs=TOLERANCE)
    slot = RateLimitSlot.objects.get(key=key)
    assert slot.next_free == pytest.approx(clock.value + total / 25, abs=TOLERANCE)


@pytest.mark.django_db(transaction=True)
def test_threads_creating_a_new_budget_at_once_make_one_row(key, clock):
    book_from_threads(key, clock, rate=100)

    assert RateLimitSlot.objects.filter(key=key).count() == 1


@pytest.mark.django_db
def test_a_booking_inside_a_transaction_does_not_keep_the_row_locked(key, clock):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: one writer at a time; an open transaction locks the whole database")
    outcome: dict[str, float] = {}

    with transaction.atomic():
        reserve(key, 10, 10, now=clock, sleep=lambda s: None)

        def other_process() -> None:
            try:
                with transaction.atomic():
                    # NOWAIT fails at once if the caller's transaction still held the row.
                    slot = RateLimitSlot.objects.select_for_update(nowait=True).get(key=key)
                    outcome["next_free"] = slot.next_free
            finally:
                connections.close_all()

        thread = threading.Thread(target=other_process)
        thread.start()
        thread.join(timeout=30)

    assert outcome["next_free"] == pytest.approx(clock.value + 0.1, abs=1e-9)
