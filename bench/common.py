"""Shared benchmark helpers: a fresh PostgreSQL database, gunicorn, a cheap load generator.

The load generator is asyncio on raw keep-alive sockets in one thread, so that
on a small machine it takes as little CPU as possible from the server it measures.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from konnectify.platform import processes

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Request:
    """One prepared HTTP request (bytes on the wire are built once, before timing)."""

    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    latencies: list[float]  # seconds, one per request
    statuses: list[int]
    elapsed: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds."""
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000

    def status_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for status in self.statuses:
            counts[status] = counts.get(status, 0) + 1
        return counts


def wire(request: Request, host: str) -> bytes:
    head = [
        f"POST {request.path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {len(request.body)}",
    ]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + request.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, whether the server keeps the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep


async def _client(host: str, port: int, payloads: list[bytes], out: LoadResult) -> None:
    reader = writer = None
    for payload in payloads:
        started = time.perf_counter()
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        writer.write(payload)
        status, keep = await _read_response(reader)
        out.latencies.append(time.perf_counter() - started)
        out.statuses.append(status)
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def run_load(host: str, port: int, requests: Sequence[Request], clients: int) -> LoadResult:
    """Send ``requests`` from ``clients`` concurrent keep-alive clients (closed loop)."""
    payloads = [wire(r, f"{host}:{port}") for r in requests]
    shares = [payloads[i::clients] for i in range(clients)]
    result = LoadResult([], [], 0.0)

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(*(_client(host, port, share, result) for share in shares))
        result.elapsed = time.perf_counter() - started

    asyncio.run(main())
    return result


def database_url_for(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in ``url`` (connecting to ``postgres``)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"Refusing an unusual database name: {name!r}")
    admin_url = database_url_for(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def gunicorn(
    env: dict[str, str], bind: str, log_path: Path, *, workers: int, threads: int
) -> Iterator[subprocess.Popen]:
    """Serve ``konnectify.wsgi`` until the block ends; waits until it answers."""
    worker_class = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    command = [
        sys.executable, "-m", "gunicorn", "konnectify.wsgi", "--bind", bind,
        "--workers", str(workers), *worker_class, "--keep-alive", "30",
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)
    env = {**os.environ, **env}
    with processes.running(command, cwd=BASE_DIR, env=env, log=log_path) as process:
        _wait_for_port(bind, process)
        yield process


def _wait_for_port(bind: str, process: subprocess.Popen, timeout: float = 30) -> None:
    import socket

    host, port = bind.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up; see its log.")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start listening in time.")
