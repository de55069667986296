"""Feed a connection's Stripe events of the last days through the inbox, on demand.

    python manage.py backfill_events --connection "Shop live" --since 3d [--types a b ...]

Already stored events are counted as duplicates and change nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from connections.models import Connection, InboxEvent
from connections.reconcile import STRIPE_RETENTION, Summary, feed
from connections.webhooks import event_types_in_use
from stripe_connector.errors import StripeError

_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
BAR_WIDTH = 30


def parse_since(value: str, now: datetime) -> datetime:
    """``3d``, ``12h``, ``30m`` ago, or an ISO date/time (UTC when no zone is given)."""
    match = _DURATION.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--since {value!r}: use e.g. 3d, 12h, 30m or 2026-11-01.") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


class Command(BaseCommand):
    help = "List a connection's Stripe events since a time and store the missing ones."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--connection", required=True, help="The connection's name.")
        parser.add_argument("--since", required=True, help="3d, 12h, 30m or an ISO date.")
        parser.add_argument(
            "--types", nargs="+", help="Event types (default: the types the endpoint has enabled)."
        )

    def handle(self, *args, connection: str, since: str, types: list[str] | None, **options):
        target = self.find(connection)
        now = timezone.now()
        start = parse_since(since, now)
        if start < now - STRIPE_RETENTION:
            self.stderr.write("Stripe keeps events for 30 days; older ones cannot be listed.")
            start = now - STRIPE_RETENTION
        wanted = sorted(set(types or event_types_in_use(target)))
        if not wanted:
            raise CommandError("No event types: pass --types or enable some on the connection.")
        self.stdout.write(
            f"Backfilling {target.name} since {start:%Y-%m-%d %H:%M} UTC: {', '.join(wanted)}"
        )
        try:
            summary = feed(
                target,
                start,
                wanted,
                source=InboxEvent.Source.BACKFILL,
                progress=lambda s: self.progress(s, start, now),
            )
        except StripeError as exc:
            raise CommandError(f"Stripe: {exc}") from None
        self.stderr.write("")
        self.stdout.write(self.style.SUCCESS(f"Done: {summary} ({summary.listed} listed)."))

    def find(self, name: str) -> Connection:
        try:
            return Connection.objects.get(name=name)
        except Connection.DoesNotExist:
            names = ", ".join(Connection.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No connection named {name!r} (there are: {names}).") from None

    def progress(self, summary: Summary, start: datetime, now: datetime) -> None:
        """A bar of the time span covered so far (events are listed newest first)."""
        covered = 0.0
        if summary.oldest is not None:
            covered = (now - summary.oldest) / max(now - start, timedelta(seconds=1))
        filled = round(BAR_WIDTH * min(max(covered, 0.0), 1.0))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stderr.write(f"\r[{bar}] {summary.listed} listed: {summary}", ending="")
        self.stderr.flush()
