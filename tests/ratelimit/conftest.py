"""Fixtures for the rate limiter: a controllable clock, a recording sleep, fresh budget keys."""

from __future__ import annotations

import uuid

import pytest


class FakeClock:
    """Seconds since the epoch that move only when a test moves them."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


class RecordingSleep:
    """Records every sleep instead of sleeping: no test waits for real time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def key() -> str:
    """A budget key no other test uses (on PostgreSQL some bookings commit on their own)."""
    return f"test:{uuid.uuid4()}"
