"""The catalog: every trigger and action of the product, declared once.

Admin choices, the API, the CLI (``manage.py stripe_catalog``) and validation
all read this registry. Each Stripe resource has its own module (customers.py,
invoices.py, ...) where each action is a short declaration; shared building
blocks live in base.py (Action, Trigger, the generic run), schema.py (input
schema helpers) and search.py (the search query compiler).

    from stripe_connector.catalog import ACTIONS, TRIGGERS, get_action, get_trigger
"""

from stripe_connector.catalog.base import Action, ActionResult, ObjectNotFound, Trigger
from stripe_connector.catalog.registry import (
    ACTIONS,
    GROUPS,
    TRIGGERS,
    action_choices,
    event_type_for_trigger,
    get_action,
    get_trigger,
    trigger_choices,
)

__all__ = [
    "ACTIONS",
    "GROUPS",
    "TRIGGERS",
    "Action",
    "ActionResult",
    "ObjectNotFound",
    "Trigger",
    "action_choices",
    "event_type_for_trigger",
    "get_action",
    "get_trigger",
    "trigger_choices",
]
