"""Assembles the per-resource modules into the one registry, in product-page order."""

from __future__ import annotations

from collections.abc import Iterable

from stripe_connector.catalog import (
    advanced,
    coupons,
    customers,
    events_accounts,
    http,
    invoices,
    payments,
    prices,
    products,
    subscriptions,
    triggers,
)
from stripe_connector.catalog.base import Action, Trigger
from stripe_connector.catalog.triggers import CUSTOM_KEY, EVENT_TYPE_PATTERN

# The product page's order; the custom trigger and the raw API request are "Advanced";
# requests to other systems than Stripe are "HTTP".
GROUPS: list[str] = [
    "Customers",
    "Products",
    "Prices",
    "Subscriptions",
    "Invoices",
    "Payments",
    "Coupons",
    "Events & Accounts",
    "Advanced",
    "HTTP",
]

_MODULES = (
    customers,
    products,
    prices,
    subscriptions,
    invoices,
    payments,
    coupons,
    events_accounts,
    advanced,
    http,
)


def _by_key(items: Iterable[Trigger | Action], kind: str) -> dict:
    """Index by key, refusing duplicates and unknown groups (a typo must fail at import)."""
    index: dict = {}
    for item in sorted(items, key=lambda item: GROUPS.index(item.group)):
        if item.key in index:
            raise ValueError(f"Duplicate {kind} key {item.key!r} in the catalog.")
        index[item.key] = item
    return index


TRIGGERS: dict[str, Trigger] = _by_key(triggers.TRIGGERS, "trigger")
ACTIONS: dict[str, Action] = _by_key(
    (action for module in _MODULES for action in module.ACTIONS), "action"
)


def get_trigger(key: str) -> Trigger:
    """The trigger ``key`` (an event type, or "custom"); KeyError names the unknown key."""
    try:
        return TRIGGERS[key]
    except KeyError:
        raise KeyError(f"Unknown trigger {key!r}; see manage.py stripe_catalog.") from None


def get_action(key: str) -> Action:
    """The action ``key`` (e.g. "create_customer"); KeyError names the unknown key."""
    try:
        return ACTIONS[key]
    except KeyError:
        raise KeyError(f"Unknown action {key!r}; see manage.py stripe_catalog.") from None


def _grouped(items: Iterable[Trigger | Action]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Django's grouped choices: [(group, [(key, label), ...]), ...], empty groups left out."""
    choices = [(group, [(i.key, i.label) for i in items if i.group == group]) for group in GROUPS]
    return [(group, options) for group, options in choices if options]


def trigger_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for a trigger field."""
    return _grouped(list(TRIGGERS.values()))


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices for an action field."""
    return _grouped(list(ACTIONS.values()))


def event_type_for_trigger(key: str, custom_event_type: str | None = None) -> str:
    """The Stripe event type a trigger listens to (for webhook ``enabled_events``).

    The custom trigger needs ``custom_event_type``; it must look like a Stripe
    event type (``charge.refunded``); ``*`` is refused on purpose: one workflow
    must not subscribe the endpoint to every event. Raises ValueError otherwise.
    """
    trigger = get_trigger(key)
    if trigger.event_type is not None:
        return trigger.event_type
    text = (custom_event_type or "").strip()
    if not EVENT_TYPE_PATTERN.fullmatch(text):
        raise ValueError(
            f"The {CUSTOM_KEY!r} trigger needs a Stripe event type such as charge.refunded, "
            f"got {custom_event_type!r}."
        )
    return text
