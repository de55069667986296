"""The event inbox: every Stripe event enters here, once per connection, by any path.

Webhook deliveries, scheduled reconciliation and ``backfill_events`` all call
``ingest``; the database's unique constraint on (connection, event id) is what
makes "exactly once" hold, also for concurrent deliveries on several processes.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Q
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from connections.models import Connection, InboxEvent
from konnectify.platform.commit import after_commit
from stripe_connector.jsonbounds import MAX_JSON_DEPTH, JSONProblem
from stripe_connector.jsonbounds import check as check_json

logger = logging.getLogger(__name__)

# last_event_at is for staff ("is anything arriving?"); writing it on every event
# would make all deliveries of one connection queue on one row lock.
LAST_EVENT_RESOLUTION = timedelta(minutes=1)


# The product's one bound on JSON nesting (stripe_connector.jsonbounds), for events too.
MAX_EVENT_DEPTH = MAX_JSON_DEPTH

# 10000-01-01T00:00:00Z: datetime cannot go further; a later "created" is nonsense.
_MAX_TIMESTAMP = 253_402_300_800


class NotAnEvent(ValueError):
    """The payload is not a Stripe event envelope."""


class ConnectionGone(Exception):
    """The connection was deleted (by another process) before its event could be stored."""


def check_envelope(payload: Any) -> None:
    """Raise NotAnEvent, naming the field, unless ``payload`` is shaped like a Stripe event.

    Required: ``id`` (``evt_...``) and ``type``. The others, when present, must have
    the type Stripe gives them (https://docs.stripe.com/api/events/object):
    ``object`` "event", ``created`` a Unix timestamp, ``livemode`` a boolean,
    ``api_version`` a string or null, ``data`` an object holding an ``object``.
    Also refuse what no database can store (U+0000, lone surrogates) and nesting
    deeper than MAX_EVENT_DEPTH: otherwise the INSERT fails, the answer is 503 and
    Stripe delivers it again for days.
    """
    if not isinstance(payload, dict):
        raise NotAnEvent("The body is not a JSON object.")
    _check_contents(payload)
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise NotAnEvent("The event has no evt_ id.")
    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise NotAnEvent("The event has no type.")
    for field, (fits, expected) in _OPTIONAL_FIELDS.items():
        if field in payload and not fits(payload[field]):
            raise NotAnEvent(f"The event's {field} is not {expected}.")


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < _MAX_TIMESTAMP


def _is_data(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("object"), dict)


_OPTIONAL_FIELDS = {
    "object": (lambda value: value == "event", '"event"'),
    "created": (_is_timestamp, "a Unix timestamp in seconds"),
    "livemode": (lambda value: isinstance(value, bool), "a JSON boolean"),
    "api_version": (lambda value: value is None or isinstance(value, str), "a string or null"),
    "data": (_is_data, "an object whose data.object is an object"),
}

_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_contents(payload: dict) -> None:
    """NotAnEvent when any key or string holds U+0000 or a lone surrogate, or when
    ``payload`` breaks the product's bound on JSON (``jsonbounds.check``: nesting
    deeper than MAX_EVENT_DEPTH, the envelope itself being level 1, or a number that
    is not finite, such as 1e400 read from a reconciliation's page).

    Iterative, so that no depth can exhaust the stack here.
    """
    try:
        check_json(payload)
    except JSONProblem as exc:
        raise NotAnEvent(f"The event's {exc.field} {exc.reason}.") from None
    stack: list[Any] = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                raise NotAnEvent(
                    "The event holds text a database cannot store (U+0000 or a surrogate)."
                )
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def ingest(
    connection: Connection, payload: dict, *, source: str = InboxEvent.Source.WEBHOOK
) -> tuple[InboxEvent, bool]:
    """Store ``payload`` once for ``connection``; returns (the row, whether it is new).

    A new row whose livemode differs from the connection's mode is stored as a
    mode mismatch and not dispatched; any other new row is dispatched by
    ``settings.EVENT_DISPATCH_TASK`` after the surrounding transaction commits.
    A duplicate changes nothing. Database errors other than the duplicate
    propagate (the webhook view turns them into 503 so that Stripe retries);
    ConnectionGone when the connection was deleted meanwhile (NotAnEvent, see
    ``check_envelope``, when the payload is not an event).
    """
    check_envelope(payload)
    event = _new_event(connection, payload, source)
    if one_statement_ingest():
        return _ingest_in_one_statement(connection, event)
    try:
        # A transaction of its own, or a savepoint inside the caller's: a failed
        # INSERT leaves the database connection usable either way.
        with transaction.atomic():
            event.save(force_insert=True)
            if event.status == InboxEvent.Status.RECEIVED:
                schedule_dispatch(event)
    except IntegrityError as exc:
        return _duplicate_or_gone(connection, payload["id"], exc), False
    touch_last_event(connection, event.received_at)
    return event, True


def _duplicate_or_gone(
    connection: Connection, stripe_event_id: str, error: IntegrityError | None = None
) -> InboxEvent:
    """After an INSERT that stored nothing (``error``: refused): the duplicate's stored row.

    ConnectionGone when the foreign key refused it (the connection was deleted while a
    cache still held it); ``error`` itself when neither explains it.
    """
    existing = _existing(connection, stripe_event_id)
    if existing is None and not Connection.objects.filter(pk=connection.pk).exists():
        raise ConnectionGone(f"Connection {connection.pk} no longer exists.") from None
    if existing is None:  # not the unique constraint: a real problem
        raise error or IntegrityError(f"Event {stripe_event_id} was neither stored nor found.")
    return existing


# -- one statement on PostgreSQL -------------------------------------------------------


def one_statement_ingest() -> bool:
    """Whether ``ingest`` can store an event and its wake-up call in one statement.

    On PostgreSQL with the ORM broker (the default set-up there), outside any
    transaction of the caller's: one ``INSERT ... ON CONFLICT DO NOTHING`` whose
    CTE also inserts the dispatch task row, run in autocommit. One round trip
    instead of six (Django's health check, BEGIN, the two INSERTs, COMMIT, and for a
    duplicate a savepoint's rollback; see ``_execute_on_a_live_connection``), with
    the same guarantees: the two rows commit together or not at all, and a duplicate
    writes nothing.
    """
    database = connections[DEFAULT_DB_ALIAS]
    return (
        database.vendor == "postgresql" and queue_shares_database() and not database.in_atomic_block
    )


def _ingest_in_one_statement(connection: Connection, event: InboxEvent) -> tuple[InboxEvent, bool]:
    """``ingest``'s INSERT and wake-up call as one statement (``one_statement_ingest``)."""
    database = connections[DEFAULT_DB_ALIAS]
    fields = _inbox_fields()
    values = [field.get_db_prep_save(getattr(event, field.attname), database) for field in fields]
    if event.status == InboxEvent.Status.RECEIVED:
        package = dispatch_package(event)
        values += [package.key, package.payload, package.lock]
    try:
        row = _execute_on_a_live_connection(_one_statement(len(values) > len(fields)), values)
    except IntegrityError as exc:  # the foreign key: ON CONFLICT covers only the unique pair
        return _duplicate_or_gone(connection, event.stripe_event_id, exc), False
    if row is None:
        return _duplicate_or_gone(connection, event.stripe_event_id), False
    event.pk = event.id = row[0]
    event._state.adding, event._state.db = False, DEFAULT_DB_ALIAS
    touch_last_event(connection, event.received_at)
    return event, True


@cache
def _inbox_fields() -> list:
    """The inbox columns the statement writes: every concrete field but the id."""
    return [field for field in InboxEvent._meta.concrete_fields if not field.primary_key]


@cache
def _one_statement(with_wake_up: bool) -> str:
    """The statement's SQL: the inbox INSERT (parameters in ``_inbox_fields`` order),
    then, ``with_wake_up``, the task row (key, payload, lock) written with it."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    fields = _inbox_fields()
    # Names come from the models' metadata, quoted; every value is a parameter.
    sql = (
        f"WITH new_event AS (INSERT INTO {quote(InboxEvent._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote('connection_id')}, {quote('stripe_event_id')}) DO NOTHING "
        f"RETURNING {quote('id')})"
    )
    if with_wake_up:
        queue = OrmQ._meta
        columns = ", ".join(
            quote(queue.get_field(name).column) for name in ("key", "payload", "lock")
        )
        sql += (
            f", wake_up AS (INSERT INTO {quote(queue.db_table)} ({columns}) "  # noqa: S608
            "SELECT %s, %s, %s FROM new_event)"
        )
    return sql + f" SELECT {quote('id')} FROM new_event"  # noqa: S608


def _execute_on_a_live_connection(sql: str, values: list) -> tuple | None:
    """Run the one statement and return its row, without Django's health check first.

    With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before a request's first
    query on a reused connection: a round trip as long as the statement itself. Here
    the statement is its own check. When it fails because the connection is dead (the
    server restarted, an idle connection was cut), it runs once more on a new
    connection; that is safe because the statement is atomic and idempotent: had the
    first try committed, the second finds the row and stores nothing (ON CONFLICT).
    Any other error propagates (OperationalError or InterfaceError when the server is
    down: the view answers 503).
    """
    database = connections[DEFAULT_DB_ALIAS]
    database.health_check_done = True  # Django's flag: this request's check is done
    try:
        return _fetch_one(database, sql, values)
    except (OperationalError, InterfaceError):
        if database.connection is None or database.is_usable():
            raise  # the statement failed, not a connection Django had kept
    database.close()
    return _fetch_one(database, sql, values)


def _fetch_one(database: Any, sql: str, values: list) -> tuple | None:
    """The statement's one row (or None), as a prepared statement when
    WEBHOOK_PREPARED_STATEMENT is on: PostgreSQL then parses and plans it once per
    database connection instead of once per event, and the values travel apart from
    the SQL (server-side binding) instead of being quoted into it.

    The prepared statement's cursor is kept with its database connection (one per
    thread), and run inside Django's error translation but outside its cursor wrapper
    (creating both per event cost more than the statement's own Python). With a query
    log (DEBUG, a test capturing queries) or execute_wrappers installed, Django's
    wrapper runs it, so that both see it.
    """
    if not settings.WEBHOOK_PREPARED_STATEMENT:
        with database.cursor() as cursor:
            cursor.execute(sql, values)
            return cursor.fetchone()
    with database.wrap_database_errors:
        database.ensure_connection()
        raw = _kept_cursor(database)
        if not (database.queries_logged or database.execute_wrappers):
            raw.execute(sql, values)
            return raw.fetchone()
    cursor = CursorWrapper(raw, database)  # its error translation and execute_wrappers
    if not database.queries_logged:
        cursor.execute(sql, values)
        return cursor.fetchone()
    # Django's query log, with the SQL as written (Django's own debug wrapper would log
    # None: it expects client-side binding).
    with CursorDebugWrapper(raw, database).debug_sql(sql, values):
        cursor.execute(sql, values)
    return cursor.fetchone()


_kept = threading.local()


def _kept_cursor(database: Any) -> Any:
    """This thread's prepared-statement cursor on ``database``'s current connection
    (a new one after Django replaced the connection)."""
    cursor = getattr(_kept, "cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not database.connection:
        cursor = _kept.cursor = _prepared_cursor_class()(database.connection)
    return cursor


@cache
def _prepared_cursor_class() -> type:
    """Django's server-side binding cursor for psycopg 3, preparing what it runs.

    Django turns psycopg's prepared statements off (``prepare_threshold`` None, for
    connection poolers) unless OPTIONS sets a threshold; psycopg then ignores
    ``prepare=True``. This cursor sets the threshold out of reach instead, so that
    only what it runs is prepared (Django's own cursors bind on the client side and
    never prepare).

    After a failed run, the statement's next run is not prepared. psycopg remembers
    a prepared statement only once a run of it succeeded, while PostgreSQL keeps it
    from the moment it was prepared: preparing it anew after each failure (a
    read-only or full database, a deleted connection's events) would leave one more
    statement in the database connection's memory per failed delivery, for as long
    as the connection lives.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.failed: set[str] = set()  # the statements whose last run failed

        def execute(self, query, params=None, *, prepare=None, binary=None):
            if self.connection.prepare_threshold is None:
                self.connection.prepare_threshold = sys.maxsize
            prepare = query not in self.failed
            try:
                result = super().execute(query, params, prepare=prepare, binary=binary)
            except BaseException:
                self.failed.add(query)
                raise
            self.failed.discard(query)
            return result

    return PreparedCursor


@dataclass
class _Package:
    """A django-q2 task row as the ORM broker writes it (``OrmQ``: key, payload, lock)."""

    key: str
    payload: str
    lock: datetime


def dispatch_package(event: InboxEvent) -> _Package:
    """The dispatch task of ``event`` (``dispatch_call``) as an ``OrmQ`` row's values,
    not yet written.

    The task is the dict django-q2's ``async_task`` builds (django_q/tasks.py: id,
    name, func, args, kwargs, started, and the cluster's ``cached`` and
    ``ack_failures`` options), announced by its ``pre_enqueue`` signal and pickled
    and signed by its own ``SignedPackage``, as the ORM broker stores it. Built here
    rather than by ``async_task``: its name hashing, option parsing and INFO line per
    task cost a tenth of a delivery. ``tests/connections/test_one_statement_ingest.py``
    checks that the worker reads the same task from both.
    """
    func, args, name = dispatch_call(event)
    task: dict[str, Any] = {"id": uuid4().hex, "name": name, "func": func, "args": args}
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=task)
    return _Package(Conf.CLUSTER_NAME, SignedPackage.dumps(task), task["started"])


def _new_event(connection: Connection, payload: dict, source: str) -> InboxEvent:
    """An unsaved InboxEvent from the envelope (missing optional fields get safe values)."""
    livemode = payload.get("livemode", connection.mode == Connection.Mode.LIVE)
    status, detail = InboxEvent.Status.RECEIVED, ""
    if connection.mode and livemode != (connection.mode == Connection.Mode.LIVE):
        status = InboxEvent.Status.MODE_MISMATCH
        detail = (
            f"A {'live' if livemode else 'test'}-mode event arrived at a "
            f"{connection.mode}-mode connection; it is not dispatched."
        )
    now = timezone.now()
    return InboxEvent(
        connection_id=connection.pk,
        stripe_event_id=payload["id"],
        type=payload["type"],
        object_id=event_object_id(payload),
        created=datetime.fromtimestamp(payload["created"], tz=UTC) if "created" in payload else now,
        livemode=livemode,
        api_version=str(payload.get("api_version") or "")[:40],
        payload=payload,
        received_at=now,
        source=source,
        status=status,
        status_detail=detail,
    )


def event_object_id(payload: dict) -> str:
    """``data.object.id`` (``cus_...``) when it is a string that fits the column, else "".

    Stripe's events carry the object they are about in ``data.object``
    (https://docs.stripe.com/api/events/object); stored apart so that the inbox and
    runs can be found by it without reading payloads.
    """
    data = payload.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    value = found.get("id") if isinstance(found, dict) else None
    return value if isinstance(value, str) and len(value) <= 255 else ""


def _existing(connection: Connection, stripe_event_id: str) -> InboxEvent | None:
    """The stored row of a duplicate; its payload is loaded only if someone reads it."""
    rows = InboxEvent.objects.defer("payload")
    return rows.filter(connection_id=connection.pk, stripe_event_id=stripe_event_id).first()


def touch_last_event(connection: Connection, when: datetime) -> None:
    """Record that an event arrived, at most once a minute per connection.

    A conditional UPDATE that matches no row takes no lock, so concurrent
    deliveries do not serialize on the connection row.
    """
    known = connection.last_event_at
    if known is not None and known > when - LAST_EVENT_RESOLUTION:
        return
    stale = Q(last_event_at__isnull=True) | Q(last_event_at__lt=when - LAST_EVENT_RESOLUTION)
    Connection.objects.filter(stale, pk=connection.pk).update(last_event_at=when)
    connection.last_event_at = when


def queue_shares_database() -> bool:
    """True when django-q2's broker is the ORM on our database (the default set-up)."""
    return Conf.ORM == DEFAULT_DB_ALIAS and not Conf.SYNC


def schedule_dispatch(event: InboxEvent) -> None:
    """Enqueue the dispatch of a row being written in the current transaction.

    With the ORM broker the task row is written in the same transaction: workers
    see it exactly when the event commits, it rolls back with the event, and no
    crash between two commits can leave a stored event without its wake-up call
    (one commit instead of two, too). Any other broker is told after commit.
    """
    if queue_shares_database():
        enqueue_dispatch(event)
    else:
        after_commit(enqueue_dispatch, event)


def enqueue_dispatch(event: InboxEvent) -> None:
    """Hand an event to the dispatch task (``dispatch_call``) through django-q2's broker."""
    func, args, name = dispatch_call(event)
    async_task(func, *args, task_name=name)


def dispatch_call(event: InboxEvent) -> tuple[str, tuple[str, str], str]:
    """What the worker is asked to run for ``event``: (dotted path, arguments, task name).

    ``settings.EVENT_DISPATCH_TASK`` is called with (connection id as text, Stripe
    event id), known before the row is written (``_ingest_in_one_statement`` writes
    the task in the row's INSERT); the task is named ``dispatch-<Stripe event id>``.
    """
    return (
        settings.EVENT_DISPATCH_TASK,
        (str(event.connection_id), event.stripe_event_id),
        f"dispatch-{event.stripe_event_id}",
    )


def undispatchable(event: InboxEvent) -> str | None:
    """Why ``event`` cannot be dispatched again (one sentence), or None: the one rule for
    the API's ``dispatch-again`` and admin's "Dispatch again".

    A mode-mismatch event belongs to the other mode's connection; a pruned event
    (``payload_pruned_at``) has only its id left; a disabled connection runs nothing.
    """
    if event.status == InboxEvent.Status.MODE_MISMATCH:
        return "This event's mode differs from its connection's; it is not dispatched."
    if event.payload_pruned_at:
        return "This event's payload was pruned (RETENTION_DAYS); it cannot be dispatched again."
    if event.connection.status == Connection.Status.DISABLED:
        return f"Connection {event.connection.name!r} is disabled: it runs nothing."
    return None


@dataclass(frozen=True)
class Dispatched:
    """What dispatching an event again did for one workflow waiting for its type.

    ``result`` is one of created, filtered_out, already_ran, inactive; ``what`` says it
    in a few words (``created run 12.``); ``run`` is the run it names (None if inactive)
    and ``run_status`` that run's status value (``succeeded``); ``rerunnable``: the
    event already ran the workflow, as ``run``, which is finished and may be re-run.
    """

    workflow: int
    workflow_name: str
    result: str
    what: str
    run: int | None = None
    run_status: str = ""
    rerunnable: bool = False

    def __str__(self) -> str:
        return f"Workflow {self.workflow_name!r} (#{self.workflow}): {self.what}"


@dataclass(frozen=True)
class Redispatcher:
    """Dispatches one event again, now (``dispatch(event)``: one Dispatched per workflow
    waiting for its type); ``permission`` is the one that needs (``app_label.codename``:
    it creates runs), and re-running runs the event started too.

    ``rerun(event, run_ids)`` re-runs those of the given runs that ``event`` started (as
    new runs, from the first step), one line per run for people.

    ``authorize(user, event, run_ids)`` raises PermissionDenied unless ``user`` may
    dispatch ``event`` again (``run_ids`` None) or re-run those runs: the rights the
    workflows' steps need (their connection, their credentials).
    """

    permission: str
    dispatch: Callable[[InboxEvent], list[Dispatched]]
    rerun: Callable[[InboxEvent, list[int]], list[str]] | None = None
    authorize: Callable[..., None] | None = None


# Runs belong to workflows, which sits above connections and registers the redispatcher
# at start (WorkflowsConfig.ready); None: nobody registered, nothing can dispatch again.
_redispatcher: Redispatcher | None = None


def redispatch_with(redispatcher: Redispatcher | None) -> None:
    """Register what dispatches an event again (None unregisters)."""
    global _redispatcher
    _redispatcher = redispatcher


def registered_redispatcher() -> Redispatcher | None:
    """The registered Redispatcher, or None."""
    return _redispatcher
