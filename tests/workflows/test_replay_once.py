"""Replay is idempotent: one click, one new run, however many requests arrive."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from connections.models import InboxEvent
from workflows import engine, services
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow

REQUESTS = 20


def failed_run(connection) -> Run:
    workflow = make_workflow(
        connection, "customer.created", [("find", "find_customer", {"id": "cus_X"})]
    )
    event = InboxEvent.objects.create(
        connection=connection,
        stripe_event_id="evt_replay_once",
        type="customer.created",
        created=timezone.now(),
        livemode=False,
        payload={"id": "evt_replay_once", "data": {"object": {"id": "cus_X"}}},
    )
    run = engine.create_run(workflow, event=event, enqueue=False)
    StepRun.objects.filter(run=run).update(status=RunStatus.FAILED, error={"message": "No"})
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="find: No")
    run.refresh_from_db()
    return run


@pytest.fixture
def no_enqueue(monkeypatch) -> list[int]:
    """The runs a replay would wake, recorded instead of run (no Stripe here)."""
    woken: list[int] = []
    monkeypatch.setattr(engine, "enqueue_run", woken.append)
    return woken


@pytest.mark.django_db
def test_rerunning_the_same_run_twice_answers_the_first_rerun(connection, no_enqueue, on_commit):
    run = failed_run(connection)

    with on_commit():
        first, created = services.start_rerun(run)
    with on_commit():
        again, created_again = services.start_rerun(Run.objects.get(pk=run.pk))

    assert created and not created_again
    assert again.pk == first.pk and first.rerun_of_id == run.pk
    assert Run.objects.count() == 2
    assert no_enqueue == [first.pk]


@pytest.mark.django_db
def test_the_rerun_can_itself_be_rerun(connection, no_enqueue):
    run = failed_run(connection)
    first = services.rerun(run)
    Run.objects.filter(pk=first.pk).update(status=RunStatus.FAILED)
    second = services.rerun(Run.objects.get(pk=first.pk))
    assert (first.replay, second.replay) == (1, 2)
    assert second.rerun_of_id == first.pk


@pytest.mark.django_db
def test_resuming_the_same_run_twice_resets_its_steps_once(connection, no_enqueue, on_commit):
    run = failed_run(connection)
    stale = Run.objects.get(pk=run.pk)  # the page the second click came from

    with on_commit():
        services.resume_run(run)
    key = StepRun.objects.get().idempotency_key
    with pytest.raises(services.ReplayError, match="resumed already"):
        services.resume_run(stale)

    assert StepRun.objects.get().idempotency_key == key
    assert no_enqueue == [run.pk]


def concurrently(replay, run_id: int) -> list[str]:
    """``REQUESTS`` requests at once, each in its own transaction like a web request."""

    def request(_) -> str:
        try:
            with transaction.atomic():
                replay(Run.objects.get(pk=run_id))
            return "ok"
        except services.ReplayError as exc:
            return str(exc)
        finally:
            db_connection.close()

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(request, range(REQUESTS)))


postgres_only = pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="real concurrent transactions need PostgreSQL",
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_reruns_create_exactly_one_run(connection, no_enqueue):
    run = failed_run(connection)

    outcomes = concurrently(services.rerun, run.pk)

    assert outcomes == ["ok"] * REQUESTS  # every duplicate answers the one re-run
    assert Run.objects.count() == 2
    assert Run.objects.get(rerun_of=run).replay == 1
    assert len(no_enqueue) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_resumes_resume_once(connection, no_enqueue):
    run = failed_run(connection)

    outcomes = concurrently(services.resume_run, run.pk)

    assert outcomes.count("ok") == 1
    # The others are refused, whether they read the run before or after the resume.
    assert set(outcomes) - {"ok"} <= {
        "This run was resumed already (it is no longer failed).",
        "Only a failed run can be resumed.",
    }
    assert StepRun.objects.get().status == RunStatus.PENDING
    assert len(no_enqueue) == 1
