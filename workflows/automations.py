"""Popular automations: one-click templates, declared as data, created inactive.

Each template names a catalog trigger and actions; creating one makes a
workflow on a connection that staff review, then activate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from connections.models import Connection
from workflows.models import Step, Workflow
from workflows.services import save_workflow


@dataclass(frozen=True)
class Automation:
    """A ready-made workflow: trigger, optional filters, steps (name, action, mapping)."""

    key: str
    label: str
    description: str
    trigger_key: str
    steps: tuple[dict[str, Any], ...]
    filters: tuple[dict[str, Any], ...] = field(default=())


OBJECT_ID = "{{ trigger.data.object.id }}"

AUTOMATIONS: dict[str, Automation] = {
    automation.key: automation
    for automation in (
        Automation(
            key="customer_updated_find_customer",
            label="Customer Updated -> Find Customer",
            description="When a customer changes, fetch its current state for the next steps.",
            trigger_key="customer.updated",
            steps=({"name": "find_customer", "action_key": "find_customer",
                    "input_mapping": {"id": OBJECT_ID}},),
        ),
        Automation(
            key="invoice_created_finalize_invoice",
            label="Invoice Created -> Finalize Invoice",
            description="Finalize every new draft invoice so it can be paid.",
            trigger_key="invoice.created",
            filters=({"path": "data.object.status", "op": "equals", "value": "draft"},),
            steps=({"name": "finalize_invoice", "action_key": "finalize_invoice",
                    "input_mapping": {"id": OBJECT_ID}},),
        ),
        Automation(
            key="payment_intent_created_update_payment_intent",
            label="Payment Intent Created -> Update Payment Intent",
            description="Tag each new payment intent with metadata and a description.",
            trigger_key="payment_intent.created",
            steps=({"name": "update_payment_intent", "action_key": "update_payment_intent",
                    "input_mapping": {
                        "id": OBJECT_ID,
                        "description": "Payment {{ trigger.data.object.id }} (via Konnectify)",
                        "metadata": {"konnectify_event": "{{ trigger.id }}"},
                    }},),
        ),
        Automation(
            key="product_updated_find_product",
            label="Product Updated -> Find Product",
            description="When a product changes, fetch its current state for the next steps.",
            trigger_key="product.updated",
            steps=({"name": "find_product", "action_key": "find_product",
                    "input_mapping": {"id": OBJECT_ID}},),
        ),
    )
}  # fmt: skip


def create_from_automation(key: str, connection: Connection, owner=None) -> Workflow:
    """Create the automation's workflow on ``connection``, inactive until staff turn it on.

    ``owner`` is the user on whose authority its steps will use the connection
    (the caller checked that they may); None for the operator. KeyError for an
    unknown ``key``.
    """
    automation = AUTOMATIONS[key]
    with transaction.atomic():
        workflow = save_workflow(
            Workflow(
                name=automation.label,
                description=automation.description,
                connection=connection,
                owner=owner,
                trigger_key=automation.trigger_key,
                filters=[dict(item) for item in automation.filters],
                active=False,
            )
        )
        for order, step in enumerate(automation.steps, start=1):
            Step.objects.create(workflow=workflow, order=order, **step)
    return workflow
