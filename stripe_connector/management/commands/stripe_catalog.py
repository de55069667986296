"""``manage.py stripe_catalog``: the catalog of triggers and actions, for people or machines."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from stripe_connector.catalog import ACTIONS, GROUPS, TRIGGERS
from stripe_connector.client import DEFAULT_API_VERSION


class Command(BaseCommand):
    help = (
        "Print the catalog of Stripe triggers and actions, grouped like the product page; "
        "--json prints everything with input schemas."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable, with schemas.")
        parser.add_argument(
            "--samples", action="store_true", help="With --json: include the sample events."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(catalog_as_dict(samples=options["samples"]), indent=2))
        else:
            self.stdout.write(catalog_as_table())


def catalog_as_dict(*, samples: bool = False) -> dict[str, Any]:
    """Everything the registry knows, JSON-safe."""
    return {
        "api_version": DEFAULT_API_VERSION,
        "groups": GROUPS,
        "triggers": [t.to_dict(include_sample=samples) for t in TRIGGERS.values()],
        "actions": [a.to_dict() for a in ACTIONS.values()],
    }


def catalog_as_table() -> str:
    """Two aligned tables (triggers, then actions), rows in product-page group order."""
    trigger_rows = [
        (t.group, t.label, t.key, t.event_type or "(any event type)") for t in TRIGGERS.values()
    ]
    action_rows = [(a.group, a.label, a.key, a.call) for a in ACTIONS.values()]
    return "\n".join(
        [
            f"Triggers ({len(trigger_rows)})",
            _table(("Group", "Label", "Key", "Stripe event"), trigger_rows),
            "",
            f"Actions ({len(action_rows)})",
            _table(("Group", "Label", "Key", "Stripe call"), action_rows),
        ]
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Plain-text columns; the group is printed once, on the first row of each group."""
    shown = [header] + [
        (row[0] if i == 0 or rows[i - 1][0] != row[0] else "", *row[1:])
        for i, row in enumerate(rows)
    ]
    widths = [max(len(row[col]) for row in shown) for col in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in shown
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
