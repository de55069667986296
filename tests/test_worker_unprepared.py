"""``manage.py worker`` on a database ``bootstrap`` has not prepared stops at once, saying
what to run, instead of logging "no such table" ten times a second."""

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from konnectify.management.commands import worker
from tests.support.processes import BASE_DIR, child_env


def test_the_worker_on_an_unmigrated_database_stops_at_once_naming_bootstrap(tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    finished = subprocess.run(
        [sys.executable, "manage.py", "worker"],
        cwd=BASE_DIR,
        env=child_env(DATABASE_URL=empty, DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "migration(s)" in finished.stderr
    assert "Run `manage.py bootstrap` first." in finished.stderr
    assert "no such table" not in finished.stderr


@pytest.mark.django_db
def test_the_worker_without_the_cache_table_stops_before_starting_the_cluster(monkeypatch):
    def no_cluster():
        raise AssertionError("the cluster must not start")

    monkeypatch.setattr(worker, "Cluster", no_cluster)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE konnectify_cache")  # rolled back after the test

    with pytest.raises(CommandError) as refused:
        call_command("worker")

    assert str(refused.value) == (
        "The cache table konnectify_cache does not exist. Run `manage.py bootstrap` first."
    )
