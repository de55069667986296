"""The one way the tests build a Stripe event, a stored inbox event and a connection."""

from __future__ import annotations

import time
from itertools import count

from django.utils import timezone

from connections.inbox import event_object_id
from connections.models import Connection, InboxEvent

API_VERSION = "2026-04-22.dahlia"
_numbers = count(1)


def event_envelope(
    event_type: str = "customer.created", *, data_object: dict | None = None, **fields
) -> dict:
    """A Stripe event envelope (test mode) with a fresh ``evt_`` id; ``fields`` override.

    ``data_object`` is merged into the default ``data.object`` (a customer with its own
    ``cus_`` id and email). Shape: https://docs.stripe.com/api/events/object
    """
    number = next(_numbers)
    stamp = int(time.time())
    customer = {
        "id": f"cus_{number:08d}",
        "object": "customer",
        "email": f"person{number}@example.com",
    }
    event = {
        "id": f"evt_test_{number:08d}_{stamp}",
        "object": "event",
        "type": event_type,
        "created": stamp,
        "livemode": False,
        "api_version": API_VERSION,
        "data": {"object": {**customer, **(data_object or {})}},
        "request": {"id": None, "idempotency_key": None},
    }
    event.update(fields)
    return event


def inbox_event(connection: Connection, envelope: dict | None = None, **fields) -> InboxEvent:
    """An InboxEvent row for ``envelope`` (default: a fresh ``event_envelope()``), stored as
    the receiver stores one; ``fields`` override its columns."""
    envelope = envelope or event_envelope()
    values = {
        "connection": connection,
        "stripe_event_id": envelope["id"],
        "type": envelope["type"],
        "object_id": event_object_id(envelope),
        "created": timezone.now(),
        "livemode": envelope["livemode"],
        "api_version": envelope.get("api_version", ""),
        "payload": envelope,
    }
    values.update(fields)
    return InboxEvent.objects.create(**values)


def make_connection(*, secret_key: str, webhook_secret: str, **fields) -> Connection:
    """A test-mode connection with a stored secret key and signing secret; ``fields``
    override the other columns (name, account, webhook endpoint and its state...)."""
    values = {
        "name": "Test account",
        "secret_key": secret_key,
        "key_hint": f"{secret_key[:8]}...{secret_key[-4:]}",
        "mode": Connection.Mode.TEST,
        "key_kind": Connection.KeyKind.SECRET,
        "account_id": "acct_1Test",
        "webhook_secret": webhook_secret,
    }
    values.update(fields)
    return Connection.objects.create(**values)


# A step that creates a customer from the trigger's email: a duplicate run would show
# as a second customer at the Stripe stand-in.
CREATE_CUSTOMER_STEP = ("create", "create_customer", {"email": "{{ trigger.data.object.email }}"})


def make_workflow(
    connection: Connection, trigger_key: str, steps, *, filters=None, active=True, **fields
):
    """A workflow with steps given as (name, action_key, mapping[, on_failure]), saved as
    admin and the API save it (``services.save_workflow``: endpoint sync, schedule)."""
    from workflows.models import Step, Workflow
    from workflows.services import save_workflow

    workflow = save_workflow(
        Workflow(
            name=fields.pop("name", f"{trigger_key} workflow"),
            connection=connection,
            trigger_key=trigger_key,
            filters=filters or [],
            active=active,
            **fields,
        )
    )
    for order, (name, action_key, mapping, *rest) in enumerate(steps, start=1):
        Step.objects.create(
            workflow=workflow,
            order=order,
            name=name,
            action_key=action_key,
            input_mapping=mapping,
            on_failure=rest[0] if rest else Step.OnFailure.STOP,
        )
    return workflow
