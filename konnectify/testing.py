"""Helpers for tests that start real processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.utils import timezone

BASE_DIR = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test process is using right now."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process: this one's, on the test database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_SETTINGS_MODULE="konnectify.settings",
        FIELD_ENCRYPTION_KEYS=",".join(settings.FIELD_ENCRYPTION_KEYS),
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@contextmanager
def running(command: list[str], log_path: Path, **env: str) -> Iterator[subprocess.Popen]:
    """Start ``command`` in the project folder; always stop it, even if the test fails."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=child_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches its children
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop the process and everything it started (qcluster's sentinel and workers)."""
    _signal_group(process, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    # A stuck cluster ignores SIGTERM, and its children outlive the parent.
    _signal_group(process, signal.SIGKILL)
    process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def qcluster(log_path: Path, **env: str):
    """Run ``manage.py qcluster`` on the test database (a context manager)."""
    return running([sys.executable, "manage.py", "qcluster"], log_path, **env)


def wait_until(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {predicate!r}")


@dataclass
class FixedClock:
    """A clock for the workflow engine that moves only when a test says so."""

    now: datetime

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fix_workflow_clock(monkeypatch) -> FixedClock:
    """Make ``workflows.clock.now`` (the engine's only clock) return a FixedClock's time."""
    fixed = FixedClock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr("workflows.clock.now", lambda: fixed.now)
    return fixed
