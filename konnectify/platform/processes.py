"""Child processes started and stopped as a unit, the one way the product does it.

Used by ``manage.py serve`` and ``manage.py demo`` for their children, and by the
tests and benchmarks that run real processes. Each child runs in a process group of
its own, so stopping it reaches everything it started (gunicorn's workers, the task
cluster's workers): SIGTERM to the group, then, past a deadline, SIGKILL to what is
left of the group, including children that outlived their parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

# How long a stop waits for a clean exit before SIGKILL. A worker finishes the task
# in hand first, so callers that stop a worker pass its task timeout (Q_TIMEOUT).
STOP_TIMEOUT_SECONDS = 15.0


def start(
    command: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> subprocess.Popen:
    """Start ``command`` in a process group of its own.

    ``log``: a file its output (stdout and stderr) is appended to, created with its
    folder if missing; without it the child writes where this process writes.
    ``env``: the child's whole environment (default: this process's).
    """
    if log is None:
        return subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(*processes: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM each process's group at once, wait up to ``timeout`` seconds for all of
    them, then SIGKILL what is left of each group (stragglers whose parent exited too).
    """
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        kill(process)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and its whole group at once, as a crash would; reap it."""
    signal_group(process, signal.SIGKILL)
    process.wait()


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the process group ``process`` leads (gone already: nothing)."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren, ...), read from /proc (Linux)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextmanager
def running(
    command: Sequence[str], *, timeout: float = STOP_TIMEOUT_SECONDS, **options
) -> Iterator[subprocess.Popen]:
    """``start(command, **options)``; always ``stop`` it on the way out, errors included."""
    process = start(command, **options)
    try:
        yield process
    finally:
        stop(process, timeout=timeout)
