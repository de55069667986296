"""Counters of several processes add up in one scrape, and survive the processes that
counted them (folded into an archive file), while the metrics folder keeps one file per
live process only."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from konnectify.platform import metrics, metrics_store
from tests.support.processes import BASE_DIR

pytestmark = pytest.mark.django_db

# A process that counts, says so, and exits when told (a line on its stdin).
CHILD = """
import os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konnectify.settings")
django.setup()
from konnectify.platform import metrics
for _ in range(3):
    metrics.webhook_event("test.multiprocess", "accepted")
metrics.stripe_request("GET", 200, 0.2)
print(os.getpid(), flush=True)
sys.stdin.readline()
"""
LABELS = (("outcome", "accepted"), ("type", "test.multiprocess"))


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def counted(client) -> float:
    return scrape(client).get(("konnectify_webhook_events_total", LABELS), 0.0)


def start_child() -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "DATA_DIR": os.environ.get("DATA_DIR", str(settings.DATA_DIR))}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return child, int(child.stdout.readline())


def finish(child: subprocess.Popen) -> None:
    child.communicate("\n", timeout=30)
    assert child.returncode == 0


def process_files(pid: int) -> list[str]:
    return sorted(p.name for p in settings.METRICS_DIR.glob(f"*_{pid}.db"))


def test_two_processes_counts_add_up_and_outlive_the_process(client):
    assert metrics.multiprocess_mode()
    assert Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]) == settings.METRICS_DIR
    before = counted(client)
    child, pid = start_child()
    try:
        metrics.webhook_event("test.multiprocess", "accepted")
        metrics.webhook_event("test.multiprocess", "accepted")

        assert counted(client) == before + 5  # 3 in the child, 2 here
        assert process_files(pid) == [f"counter_{pid}.db", f"histogram_{pid}.db"]
    finally:
        finish(child)

    assert counted(client) == before + 5  # the scrape folded the dead child's files
    assert process_files(pid) == []


def test_a_histogram_folds_bucket_by_bucket(client):
    name = "konnectify_stripe_request_duration_seconds"
    before = scrape(client)
    child, _pid = start_child()  # observes one GET of 0.2 s
    finish(child)

    after = scrape(client)  # folded by this scrape
    grew = {
        key: round(value - before.get(key, 0.0), 6)
        for key, value in after.items()
        if key[0].startswith(name) and ("method", "GET") in key[1]
    }
    get = ("method", "GET")
    assert grew[(f"{name}_count", (get,))] == 1
    assert grew[(f"{name}_sum", (get,))] == 0.2
    assert grew[(f"{name}_bucket", (("le", "0.1"), get))] == 0
    assert grew[(f"{name}_bucket", (("le", "0.25"), get))] == 1
    assert grew[(f"{name}_bucket", (("le", "+Inf"), get))] == 1
    assert (settings.METRICS_DIR / "counter_archive.db").exists()


def test_gunicorns_child_exit_hook_folds_an_exited_workers_files(client):
    before = counted(client)
    child, pid = start_child()
    finish(child)
    assert process_files(pid) == [f"counter_{pid}.db", f"histogram_{pid}.db"]

    hooks = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    hooks["child_exit"](server=None, worker=SimpleNamespace(pid=pid))

    assert process_files(pid) == []
    assert counted(client) == before + 3


def test_a_live_process_is_never_folded():
    child, pid = start_child()
    try:
        with metrics_store.locked_for_reading(settings.METRICS_DIR):  # folds dead processes
            assert process_files(pid) == [f"counter_{pid}.db", f"histogram_{pid}.db"]
    finally:
        finish(child)


def test_reset_empties_the_folder_of_metric_files_only(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    for name in ["counter_12.db", "histogram_12.db", "counter_archive.db", "notes.txt"]:
        (folder / name).write_text("x")

    assert metrics_store.reset(folder) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert metrics_store.reset(tmp_path / "new") == 0  # created when missing
    assert (tmp_path / "new").is_dir()


def test_serve_empties_the_folder_before_it_starts_anything(monkeypatch, tmp_path):
    from konnectify.management.commands import serve

    order = []
    monkeypatch.setattr(serve.metrics_store, "reset", lambda path: order.append(("reset", path)))

    def start(command):
        order.append(("start", command[2] if command[1] == "-m" else command[1]))
        raise SystemExit("stop here")

    monkeypatch.setattr(serve.processes, "start", start)
    with pytest.raises(SystemExit):
        serve.Command().handle(bind="127.0.0.1:0", web_workers=1)

    assert order == [("reset", settings.METRICS_DIR), ("start", "gunicorn")]
