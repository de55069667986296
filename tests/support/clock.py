"""A clock for the workflow engine that moves only when a test says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone


@dataclass
class FixedClock:
    """The engine's time, moved on by ``advance`` only."""

    now: datetime

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fix_workflow_clock(monkeypatch) -> FixedClock:
    """Make ``workflows.clock.now`` (the engine's only clock) return a FixedClock's time."""
    fixed = FixedClock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr("workflows.clock.now", lambda: fixed.now)
    return fixed
