"""Pacing calls to a rate-limited service across every process and machine.

Stripe answers 429 above about 25 requests per second in test mode (100 in live
mode, 20 for search). Many worker processes, possibly on several machines,
share one Stripe account, so the budget lives in the one thing they all share:
the database. Each budget is one ``RateLimitSlot`` row holding the next free
moment; ``reserve`` books the next slot by moving it on by ``1 / rate`` under a
row lock (a GCRA without burst: "reserve the next slot"), then sleeps until its
slot once the lock is gone, so no lock is ever held while waiting or while the
HTTP request runs. On PostgreSQL a booking is one autocommit statement, so the
lock lasts microseconds inside the server; on SQLite one short IMMEDIATE
transaction (SQLite has one writer at a time anyway).

Times come from the database's clock on PostgreSQL, so machines whose clocks
disagree still space their calls correctly; on SQLite (one machine) from this
machine's clock. Only the wait, a duration, crosses back to the caller.

A caller that would wait more than ``max_wait_seconds`` books nothing and gets
``Throttled``: a retryable ``StripeError`` with ``retry_after``, so the workflow
engine reschedules the step instead of keeping a worker asleep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from konnectify.platform.models import RateLimitSlot
from stripe_connector.errors import StripeError

# Longest sleep inside a worker before handing the call back to be retried later.
# Waits grow only with the number of callers queued on one budget (each adds one
# slot), so at 24/s this is reached with over 100 callers waiting at once.
MAX_WAIT_SECONDS = 5.0

# GET /v1/<objects>/search, which Stripe limits separately (about 20/s).
_SEARCH_PATH = re.compile(r"/v1/[a-z_]+/search")

# Statements on RateLimitSlot's table; names filled in (quoted) by _sql. Plain SQL
# rather than the ORM: ``book`` may run them on a connection of its own.
_SELECT = "SELECT {next_free} FROM {table} WHERE {key} = %(key)s"
_INSERT = (
    "INSERT INTO {table} ({key}, {next_free}) VALUES (%(key)s, 0) ON CONFLICT ({key}) DO NOTHING"
)
_UPDATE = "UPDATE {table} SET {next_free} = %(next_free)s WHERE {key} = %(key)s"

# PostgreSQL books in one statement, on the database's clock unless ``now`` is
# given (tests). The clock is read before any wait for the row lock, but that
# lock lasts microseconds here. The commit does not wait for the disk
# (synchronous_commit off, for this statement only): a durable commit would hold
# the row lock through a disk flush on every booking, and a booking lost in a
# database crash costs at most one early call, which Stripe's 429 covers.
_BOOK = """
    WITH clock AS (
        SELECT COALESCE(%(now)s::float8, EXTRACT(EPOCH FROM clock_timestamp())::float8) AS now,
               set_config('synchronous_commit', 'off', true) AS unused
    )
    UPDATE {table} AS slot SET {next_free} = GREATEST(slot.{next_free}, clock.now) + %(interval)s
    FROM clock
    WHERE slot.{key} = %(key)s AND slot.{next_free} - clock.now <= %(max_wait)s
    RETURNING slot.{next_free} - %(interval)s - clock.now
"""
# Why _BOOK booked nothing: how far ahead the next slot is (no row: a new budget).
_AHEAD = """
    SELECT {next_free} - COALESCE(%(now)s::float8, EXTRACT(EPOCH FROM clock_timestamp())::float8)
    FROM {table} WHERE {key} = %(key)s
"""

# The StripeError type of Throttled: our own limit held the call back, Stripe saw nothing.
THROTTLED_TYPE = "rate_limit_local"

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Throttled(StripeError):
    """Our own budget is booked too far ahead: nothing was sent; retry after ``retry_after``."""

    def __init__(self, key: str, wait: float, max_wait: float) -> None:
        super().__init__(
            f"Held back by our own rate limit: the next free slot of {key} is {wait:.2f} s "
            f"away, more than the {max_wait:g} s a worker waits; retry later.",
            type=THROTTLED_TYPE,
            retryable=True,
            retry_after=wait,
        )
        self.key = key


# -- the generic limiter --------------------------------------------------------------------


def reserve(
    key: str,
    rate_per_second: float,
    max_wait_seconds: float,
    *,
    now: Clock | None = None,
    sleep: Sleep = time.sleep,
) -> float:
    """Book the next slot of ``key``, sleep until it, and return the seconds slept.

    Consecutive bookings are exactly ``1 / rate_per_second`` apart, whichever
    process makes them. ``now`` replaces the clock (tests); by default it is the
    database's. Raises ``Throttled`` (booking nothing) when the slot is more
    than ``max_wait_seconds`` away.
    """
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive.")
    if max_wait_seconds < 0:
        raise ValueError("max_wait_seconds must not be negative.")
    wait = book(key, 1.0 / rate_per_second, max_wait_seconds, now=now)
    if wait > 0:
        sleep(wait)  # outside any transaction: the row is already unlocked
    return wait


def book(key: str, interval: float, max_wait: float, *, now: Clock | None = None) -> float:
    """Move ``key``'s next free time on by ``interval``; return the wait for the booked slot."""
    db = connections[router.db_for_write(RateLimitSlot)]
    if db.vendor != "postgresql":
        # SQLite: the IMMEDIATE transaction takes the database's one write lock.
        with transaction.atomic(using=db.alias):
            return _book_in_transaction(db, key, interval, max_wait, now)
    if not db.in_atomic_block:
        return _book_in_one_statement(db, key, interval, max_wait, now)
    # Booking inside the caller's transaction would keep the row locked until that
    # transaction ends, i.e. across the caller's HTTP request: every other process
    # would queue behind it. Book on a connection of our own, committed at once.
    with _own_connection(db) as own:
        return _book_in_one_statement(own, key, interval, max_wait, now)


def _book_in_one_statement(
    db: BaseDatabaseWrapper, key: str, interval: float, max_wait: float, now: Clock | None
) -> float:
    """PostgreSQL, autocommit: the row lock lasts one statement, inside the server.

    A transaction of several statements holds the lock across round trips, each
    waiting for this thread to be scheduled again (GIL, busy CPU): measured with
    bench/rate_limit.py on a loaded 2-CPU machine, that capped one budget at
    64-83 calls/s against a pace of 95/s; one statement reached 91-95/s.
    """
    params = {
        "key": key,
        "interval": interval,
        "max_wait": max_wait,
        "now": now() if now is not None else None,
    }
    ahead = None
    with db.cursor() as cursor:
        for _attempt in range(3):
            cursor.execute(_sql(db, _BOOK), params)
            booked = cursor.fetchone()
            if booked is not None:
                return max(0.0, float(booked[0]))
            cursor.execute(_sql(db, _AHEAD), params)
            ahead = cursor.fetchone()
            if ahead is None:
                # A new budget: create it (a concurrent first booking may win).
                cursor.execute(_sql(db, _INSERT), params)
            elif ahead[0] > max_wait:
                raise Throttled(key, float(ahead[0]), max_wait)
            # Otherwise another caller created the row in between: book again.
    # Only a booking race at the max_wait boundary, again and again, ends here.
    raise Throttled(key, float(ahead[0]) if ahead else interval, max_wait)


def _book_in_transaction(
    db: BaseDatabaseWrapper, key: str, interval: float, max_wait: float, now: Clock | None
) -> float:
    """Any database, inside a transaction: lock the row, read, decide, write."""
    with db.cursor() as cursor:
        next_free = _locked_next_free(db, cursor, key)
        current = now() if now is not None else time.time()  # SQLite: one machine, one clock
        start = max(next_free, current)
        wait = start - current
        if wait > max_wait:
            raise Throttled(key, wait, max_wait)
        cursor.execute(_sql(db, _UPDATE), {"next_free": start + interval, "key": key})
    return wait


def _locked_next_free(db: BaseDatabaseWrapper, cursor, key: str) -> float:
    """The row's next free time, locked until the transaction ends; creates the row once."""
    # SQLite has no FOR UPDATE; its IMMEDIATE transactions already lock the database.
    lock = " FOR UPDATE" if db.features.has_select_for_update else ""
    select = _sql(db, _SELECT) + lock
    cursor.execute(select, {"key": key})
    row = cursor.fetchone()
    if row is None:
        # Two first bookings at once: one inserts, the other waits for it and
        # inserts nothing; both then lock the same row.
        cursor.execute(_sql(db, _INSERT), {"key": key})
        cursor.execute(select, {"key": key})
        row = cursor.fetchone()
    return float(row[0])


def _sql(db: BaseDatabaseWrapper, template: str) -> str:
    """``template`` with the table and column names of RateLimitSlot, quoted for ``db``."""
    meta = RateLimitSlot._meta
    return template.format(
        table=db.ops.quote_name(meta.db_table),
        key=db.ops.quote_name(meta.get_field("key").column),
        next_free=db.ops.quote_name(meta.get_field("next_free").column),
    )


@contextmanager
def _own_connection(db: BaseDatabaseWrapper) -> Iterator[BaseDatabaseWrapper]:
    """A fresh connection with ``db``'s settings, closed afterwards (rare path: see ``book``)."""
    own = connections.create_connection(db.alias)
    try:
        yield own
    finally:
        own.close()


# -- Stripe's budgets ---------------------------------------------------------------------


def stripe_throttle(
    account_key: str,
    mode: str,
    *,
    max_wait_seconds: float = MAX_WAIT_SECONDS,
    now: Clock | None = None,
    sleep: Sleep = time.sleep,
) -> Callable[[str, str], None]:
    """The ``throttle`` for a ``StripeClient`` of one Stripe account in ``mode``.

    One budget per account and mode covers reads and writes together (Stripe
    counts them apart: this is the conservative half); a search also books a
    slot of the separate search budget first, as Stripe limits it on its own.
    Rates are read from settings on every call, so a change needs no rebuild.
    """
    if mode not in ("test", "live"):
        raise ValueError(f"Unknown Stripe mode {mode!r}; expected 'test' or 'live'.")
    general = f"stripe:{mode}:{account_key}"

    def throttle(method: str, path: str) -> None:
        if _SEARCH_PATH.fullmatch(path):
            rate = settings.STRIPE_RATE_LIMIT_SEARCH
            reserve(f"{general}:search", rate, max_wait_seconds, now=now, sleep=sleep)
        reserve(general, _mode_rate(mode), max_wait_seconds, now=now, sleep=sleep)

    return throttle


def _mode_rate(mode: str) -> int:
    """Requests per second for all calls of one account in ``mode``."""
    return settings.STRIPE_RATE_LIMIT_LIVE if mode == "live" else settings.STRIPE_RATE_LIMIT_TEST
