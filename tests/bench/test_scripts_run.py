"""Every script in bench/ runs from a fresh clone and reports figures of the right shape.

Smoke runs at tiny sizes (seconds each), not measurements: the assertions are on what
the scripts print and on the rows they store (N events in, N rows), never on timings.
Two fault scenarios are left out: ``bench.faults postgres`` stops the machine's PostgreSQL
server, and ``bench.faults sigkill`` needs minutes (a killed worker's task comes back
after ``Q_RETRY``); they share every piece of harness the others run.
"""

from __future__ import annotations

import json
import re

import pytest

from bench import harness

from .conftest import report_checks, report_figures, run_script

pytestmark = pytest.mark.slow


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_process_logs_folder_is_created_when_missing(tmp_path, monkeypatch):
    logs = tmp_path / "test-artifacts"
    monkeypatch.setattr(harness, "LOGS", logs)

    with harness.process({}, ["true"], "smoke.log"):
        pass

    assert (logs / "smoke.log").exists()


def test_import_graph():
    out = run_script("bench/import_graph.py")

    assert re.search(r"^package cycles: \d+ \[", out, flags=re.MULTILINE)
    assert re.search(r"^module cycles: \d+ ", out, flags=re.MULTILINE)
    assert re.search(r"^late imports \(inside functions\): \d+$", out, flags=re.MULTILINE)


def test_mapping_sandbox():
    figures = json.loads(
        run_script("bench/mapping_sandbox.py", "--repeat", "1", "--renders", "20", "--json")
    )

    assert figures["refusals"], "no runaway case was tried"
    for row in figures["refusals"]:
        assert row["run_error"], f"{row['case']} was not refused"
        assert row["run_ms"] >= 0 and row["save_ms"] >= 0
    assert figures["peak_rss_mb"] > 0
    assert figures["normal_mapping"]["bounded_sandbox_us"] > 0


def test_rate_limit(bench_database):
    out = run_script(
        "bench/rate_limit.py", "--calls", "10", "--processes", "1", "--threads", "2",
        "--database-url", bench_database,
    )  # fmt: skip

    rows = re.findall(r"^\| (1|median) \| ([\d.]+) \| ([\d.]+)% \|.*\| (\d+) \| (\d+) \| (\d+) \|$",
                      out, flags=re.MULTILINE)  # fmt: skip
    assert [row[0] for row in rows] == ["1", "median"], out
    for _, rate, fraction, failed, created, _ in rows:
        assert number(rate) > 0 and number(fraction) > 0
        assert (int(failed), int(created)) == (0, 10)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_webhook_ingest(database, bind, tmp_path, request):
    if database == "postgresql":
        url = request.getfixturevalue("bench_database")  # skipped on a SQLite run
    else:
        url = f"sqlite:///{tmp_path / 'ingest.db'}"
    out = run_script(
        "-m", "bench.webhook_ingest", "--database-url", url, "--bind", bind, "--rounds", "2",
        "--events", "20", "--duplicates", "5", "--copies", "3", "--clients", "4", "--warm", "5",
        "--workers", "2",
    )  # fmt: skip

    checks = report_checks(out)
    assert checks["20 new events -> 20 rows, every round"] == ("pass", "20, 20")
    assert checks["5 events x 3 deliveries -> 5 rows, every round"] == ("pass", "5, 5")
    number_ = r"[\d,.]+"
    row = (
        rf"^\| (\d) \| {number_} \| {number_} \| {number_} \| ({number_}) \| {number_} \| "
        rf"{number_} \| ({number_}) \| 200: (\d+); rows (\d+) \| {number_} \| {number_} \| "
        rf"200: (\d+); rows (\d+) \|$"
    )
    rounds = re.findall(row, out, flags=re.MULTILINE)
    assert [(n, int(ok), int(rows), int(dup_ok), int(dup_rows)) for n, _, _, ok, rows, dup_ok,
            dup_rows in rounds] == [("1", 20, 20, 15, 5), ("2", 20, 20, 15, 5)], out  # fmt: skip
    assert all(number(rate) > 0 and number(ratio) > 0 for _, rate, ratio, *_ in rounds)
    medians = re.findall(r"^\| (bare|ingest|duplicates) \| ([\d,]+) \|", out, flags=re.MULTILINE)
    assert [name for name, _ in medians] == ["bare", "ingest", "duplicates"], out
    assert "SQLite" in out if database == "sqlite" else "PostgreSQL" in out


def test_brokers(bench_database, bind):
    out = run_script(
        "-m", "bench.brokers", "--json", "--database-url", bench_database, "--bind", bind,
        "--duration", "1", "--rate", "5", "--burst", "5",
    )  # fmt: skip

    result = json.loads(out)
    assert (result["broker"], result["workers"], result["events"]) == ("orm", 2, 5)
    assert (result["runs_done"], result["non_200"], result["duplicates"]) == (10, 0, 0)
    assert result["p99_ms"] >= result["p50_ms"] > 0
    assert result["runs_per_s"] > 0
    assert result["web_peak_mib"] and result["qcluster_peak_mib"]


def test_scale(bench_database, bind):
    out = run_script(
        "-m", "bench.scale", "--database-url", bench_database, "--bind", bind,
        "--samples", "3", "--rounds", "1", "--requests", "20", "--workflows", "40",
        "--connections", "3", "--warm", "5",
    )  # fmt: skip

    figures = report_figures(out)
    for size in ("10", "20", "40"):
        median, p99 = (
            figures[f"dispatch with {size} workflows: median / p99 ms"].split(" (")[0].split(" / ")
        )
        assert 0 < number(median) <= number(p99)
    assert report_checks(out)["every ingest request answered 200"] == ("pass", "0")
    for spread in ("1", "3"):
        rate, _, failed = figures[
            f"ingest to {spread} connection(s): req/s, p99 ms, non-200"
        ].split(", ")
        assert number(rate) > 0 and failed == "0"


def test_pipeline(bench_database, tmp_path):
    out = run_script(
        "bench/pipeline.py", "--database-url", bench_database, "--data-dir", str(tmp_path),
        "--duration", "1", "--rate", "4", "--others", "30", "--rounds", "1",
        "--dispatch-samples", "2",
    )  # fmt: skip

    summary = json.loads(out[out.rindex("\n{") :])
    for phase, posted in (("load_10_workflows", 4), ("load_with_others", 4)):
        load = summary[phase]
        assert (load["events_posted"], load["events_stored"]) == (posted, posted), load
        assert (load["runs_completed"], load["runs_failed"]) == (posted, 0), load
        assert 0 < load["p50_ms"] <= load["p99_ms"]
    assert summary["dispatch_ms_median_10"] > 0 and summary["dispatch_ms_median_with_others"] > 0
    assert summary["idempotency_keys_unique"] is True


def test_faults_duplicates(bench_database, bind):
    out = run_script(
        "-m", "bench.faults", "duplicates", "--database-url", bench_database, "--bind", bind,
        "--events", "5",
    )  # fmt: skip

    checks = report_checks(out)
    assert checks["5 inbox rows"] == ("pass", "5")
    assert checks["one run per workflow and event (10 pairs)"] == ("pass", "{1: 10}")
    assert checks["no Idempotency-Key created twice"] == ("pass", "0")
    assert all(result == "pass" for result, _ in checks.values()), checks
    assert report_figures(out)["requests"] == "50"


def test_faults_outage(bench_database, bind):
    out = run_script(
        "-m", "bench.faults", "outage", "--database-url", bench_database, "--bind", bind,
        "--events", "3", "--seconds", "1",
    )  # fmt: skip

    checks = report_checks(out)
    assert checks["all 3 runs succeeded"] == ("pass", "{'succeeded': 3}")
    assert checks["Stripe objects created == runs (3)"] == ("pass", "3")
    assert all(result == "pass" for result, _ in checks.values()), checks
    assert report_figures(out)["webhook statuses"] == "{200: 3}"


def test_large_db(bench_database):
    out = run_script(
        "-m", "bench.large_db", "--database-url", bench_database, "--rows", "300",
        "--workflows", "4", "--repeat", "1", "--json", "--prune",
    )  # fmt: skip

    result = json.loads(out)
    assert result["rows"] == {
        "connections_inboxevent": 300,
        "workflows_run": 300,
        "workflows_steprun": 300,
    }
    assert len(result["pages"]) >= 15
    for page in result["pages"]:
        assert page["status"] == 200, page
        assert page["ms"] > 0 and page["statements"] > 0, page
    *_, last = result["prune"]
    assert (last["runs"], last["inbox_events"], last["inbox_payloads"]) == (0, 0, 0)
    deleted = {key: sum(call[key] for call in result["prune"]) for key in ("runs", "inbox_events")}
    assert 100 < deleted["runs"] < 160, deleted  # the older half, but for retrying runs
    assert 0 < deleted["inbox_events"] < deleted["runs"], deleted
    assert last["peak_rss_mib"] > 0
