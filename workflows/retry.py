"""When to try a failed step again: exponential backoff with "equal jitter".

The delay is half the exponential ceiling plus a random part up to the other
half: the random half spreads retries of many steps that failed together (one
429 burst) instead of having them hit Stripe in lockstep, and the fixed half
guarantees how long the attempts last: with the defaults (2 s, 8 attempts) the
8th attempt comes at least 127 s after the first, so a one-minute Stripe
outage never uses up a step's attempts (full jitter could, in about 6% of
steps). Stripe's ``Retry-After`` is a floor.

A step is never retried after Stripe's idempotency window (24 h from the
StepRun's ``created_at``, when its key was fixed; for a for-each step, when the
current item began, as each item has its own key): past it Stripe may have
forgotten the key and a retry could create the object twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# Leave room for the attempt itself (connect + read timeouts) inside the window.
WINDOW_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff parameters; ``from_settings()`` reads the WORKFLOW_RETRY_* settings."""

    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    max_attempts: int = 8

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            base_seconds=float(getattr(settings, "WORKFLOW_RETRY_BASE_SECONDS", 2)),
            cap_seconds=float(getattr(settings, "WORKFLOW_RETRY_CAP_SECONDS", 600)),
            max_attempts=int(getattr(settings, "WORKFLOW_RETRY_MAX_ATTEMPTS", 8)),
        )

    def ceiling(self, attempts: int) -> float:
        """The largest delay after ``attempts`` failed attempts (1 -> base)."""
        exponent = max(attempts - 1, 0)
        # min() before the power would overflow on absurd attempt counts.
        return min(self.cap_seconds, self.base_seconds * (2 ** min(exponent, 62)))

    def next_attempt_at(
        self,
        *,
        attempts: int,
        created_at: datetime,
        now: datetime,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When to try again after ``attempts`` failures, or None to give up.

        Gives up when the attempts are used up or the next attempt would fall
        outside the idempotency window.
        """
        if attempts >= self.max_attempts:
            return None
        half = self.ceiling(attempts) / 2
        delay = half + rand() * half
        if retry_after:
            delay = max(delay, float(retry_after))
        when = now + timedelta(seconds=delay)
        if when > created_at + IDEMPOTENCY_WINDOW - WINDOW_MARGIN:
            return None
        return when
