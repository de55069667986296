"""Running the scripts in bench/ at tiny sizes: their command line, a scratch database, a port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bench.common import database_url_for

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def run_script(*arguments: str, timeout: float = 300) -> str:
    """Run ``python <arguments>`` in the project folder; its stdout, or a failure with its log."""
    done = subprocess.run(
        [sys.executable, *arguments],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-4000:]}"
    return done.stdout


def report_checks(text: str) -> dict[str, tuple[str, str]]:
    """The "| check | result | value |" rows of a bench report: name -> (result, value)."""
    rows = re.findall(r"^\| (.+?) \| (pass|FAIL) \| (.*) \|$", text, flags=re.MULTILINE)
    return {name: (result, value) for name, result, value in rows}


def report_figures(text: str) -> dict[str, str]:
    """The "| figure | value |" rows of a bench report (two columns)."""
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", text, flags=re.MULTILINE)
    return {name: value for name, value in rows if name not in {"figure", "---"}}


@pytest.fixture
def bench_database(request):
    """A PostgreSQL URL for one script's scratch database, dropped afterwards.

    The scripts measure PostgreSQL only; on SQLite these smoke runs are skipped.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("The bench scripts run on PostgreSQL (set DATABASE_URL).")
    base = urlsplit(url).path.lstrip("/") or "konnectify"
    name = f"{base}_bench_{request.node.name.removeprefix('test_')[:20]}"
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())
    scratch = database_url_for(url, name)
    yield scratch
    import psycopg

    with psycopg.connect(database_url_for(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def bind() -> str:
    """A free 127.0.0.1 port for the script's gunicorn."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"
