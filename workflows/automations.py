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
# Placeholders in the reserved .invalid domain (RFC 2606): the HTTP request action refuses
# them by name (field url), so nothing is sent until the user sets their endpoint.
CRM_URL_PLACEHOLDER = "https://your-crm.invalid/replace-with-your-endpoint"
SLACK_URL_PLACEHOLDER = "https://hooks.slack.invalid/services/replace-with-your-webhook-url"
INVOICE = "trigger.data.object"
# Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal): their
# amounts are whole units; every other currency's are hundredths.
ZERO_DECIMAL = str(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
     "xaf", "xof", "xpf"]
)  # fmt: skip
AMOUNT_DUE = (
    f"{{{{ {INVOICE}.amount_due if {INVOICE}.currency in {ZERO_DECIMAL} "
    f"else '%.2f' | format({INVOICE}.amount_due / 100) }}}} {{{{ {INVOICE}.currency | upper }}}}"
)

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
            key="customer_updated_send_to_crm",
            label="Customer Updated -> send to your CRM",
            description="POST the customer's fields as JSON to your CRM when a customer "
            "changes. Set the step's URL (and a credential) before activating: the "
            "placeholder URL is refused and nothing is sent.",
            trigger_key="customer.updated",
            steps=({"name": "send_to_crm", "action_key": "http_request",
                    "input_mapping": {
                        "method": "POST",
                        "url": CRM_URL_PLACEHOLDER,
                        "json_body": {
                            "stripe_customer_id": OBJECT_ID,
                            "email": "{{ trigger.data.object.email }}",
                            "name": "{{ trigger.data.object.name }}",
                            "phone": "{{ trigger.data.object.phone }}",
                            "description": "{{ trigger.data.object.description }}",
                            "address": "{{ trigger.data.object.address }}",
                            "metadata": "{{ trigger.data.object.metadata }}",
                            "stripe_event_id": "{{ trigger.id }}",
                        },
                    }},),
        ),
        Automation(
            key="invoice_payment_failed_alert_team",
            label="Invoice Payment Failed -> alert the team",
            description="Post a message naming the invoice, the customer and the amount to a "
            "Slack-compatible incoming webhook when an invoice payment fails. Set the step's "
            "URL before activating: the placeholder URL is refused and nothing is sent.",
            trigger_key="invoice.payment_failed",
            steps=({"name": "alert_team", "action_key": "http_request",
                    "input_mapping": {
                        "method": "POST",
                        "url": SLACK_URL_PLACEHOLDER,
                        "json_body": {
                            "text": f"Payment failed: invoice "
                            f"{{{{ {INVOICE}.number or {INVOICE}.id }}}} of "
                            f"{{{{ {INVOICE}.customer_name or {INVOICE}.customer_email "
                            f"or {INVOICE}.customer }}}} "
                            f"({{{{ {INVOICE}.customer }}}}), {AMOUNT_DUE} due.",
                        },
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
