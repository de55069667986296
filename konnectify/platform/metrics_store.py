"""The folder where every process keeps its Prometheus counters (prometheus_client's
multiprocess mode), and its housekeeping: emptied when the product starts, each dead
process's files folded into one archive file so the folder does not grow with every
process that ever ran.

The product runs as several processes (gunicorn's web workers, the task cluster's
workers, which django-q2 replaces after a number of tasks); a counter kept in one
process's memory would show only that process's share, and a scrape reaches one web
worker. In multiprocess mode each process writes its counters to memory-mapped files
named ``<type>_<pid>.db`` in PROMETHEUS_MULTIPROC_DIR, and a scrape sums every file.

Without Django on purpose: gunicorn's arbiter calls ``process_exited`` from its
``child_exit`` hook (gunicorn.conf.py) without loading the project.

The folder belongs to the processes of one host (one PID namespace): a process is
taken for dead when no process of its PID exists here.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
# Counters and histograms only: gauges are computed at scrape time (konnectify.platform.metrics).
_PROCESS_FILE = re.compile(r"^(counter|histogram)_(\d+)\.db$")
_LOCK_FILE = "folding.lock"


def folder() -> Path | None:
    """PROMETHEUS_MULTIPROC_DIR as a Path (set by settings.py), or None when unset."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def reset(path: Path) -> int:
    """Empty ``path`` of metric files (creating it if missing); returns how many were removed.

    Called when the product starts (``manage.py serve``), before any of its processes
    writes: counters start from zero, as Prometheus expects after a restart.
    """
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in path.glob("*.db"):
        file.unlink(missing_ok=True)
        removed += 1
    return removed


def process_exited(pid: int, path: Path | None = None) -> bool:
    """Fold the files of process ``pid``, which has exited, into the archive files.

    gunicorn's ``child_exit`` hook calls it for each web worker that exits; the task
    cluster's workers, which have no such hook, are folded at the next scrape
    (``locked_for_reading``). False when there is no folder or nothing to fold.
    """
    path = path or folder()
    if path is None or not path.is_dir():
        return False
    with _lock(path, fcntl.LOCK_EX):
        return any([_fold(file, path) for file in _files_of(path, {pid})])


@contextmanager
def locked_for_reading(path: Path) -> Iterator[None]:
    """Fold the files of processes that no longer exist, then hold the folder for a scrape.

    Folding takes an exclusive lock and a scrape a shared one, so no scrape reads a
    process's values twice (in its file and in the archive) or not at all.
    """
    with _lock(path, fcntl.LOCK_EX):
        for file in _files_of(path, None):
            if not _alive(int(_PROCESS_FILE.match(file.name).group(2))):
                _fold(file, path)
    with _lock(path, fcntl.LOCK_SH):
        yield


def _files_of(path: Path, pids: set[int] | None) -> list[Path]:
    """The per-process metric files in ``path`` (of ``pids`` only, when given)."""
    found = []
    for file in path.iterdir():
        match = _PROCESS_FILE.match(file.name)
        if match and (pids is None or int(match.group(2)) in pids):
            found.append(file)
    return found


def _fold(file: Path, path: Path) -> bool:
    """Add each value of ``file`` to ``<type>_archive.db`` and remove ``file``.

    Values are added key by key, as stored: a counter's total, a histogram's count in
    one bucket (not cumulative), its sum; so the archive sums like any process's file.
    """
    from prometheus_client.mmap_dict import MmapedDict

    kind = _PROCESS_FILE.match(file.name).group(1)
    try:
        values = list(MmapedDict.read_all_values_from_file(str(file)))
    except FileNotFoundError:
        return False
    archive = MmapedDict(str(path / f"{kind}_archive.db"))
    try:
        for key, value, timestamp, _position in values:
            total, _ = archive.read_value(key)
            archive.write_value(key, total + value, timestamp)
    finally:
        archive.close()
    file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


@contextmanager
def _lock(path: Path, mode: int) -> Iterator[None]:
    with open(path / _LOCK_FILE, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
