"""Real processes (the task cluster, gunicorn) on the database this test process uses."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from konnectify.platform import processes

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


def running(command: list[str], log_path: Path, **env: str):
    """Run ``command`` in the project folder on the test database (a context manager);
    it is stopped (its whole process group) on the way out, even if the test fails."""
    return processes.running(command, cwd=BASE_DIR, env=child_env(**env), log=log_path)


def worker(log_path: Path, **env: str):
    """Run ``manage.py worker`` (the task cluster) on the test database (a context manager)."""
    return running([sys.executable, "manage.py", "worker"], log_path, **env)


def wait_until(predicate, timeout: float = 20, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {predicate!r}")
