"""Payment intents: create, update, find, cancel, confirm, capture (Stripe has no delete)."""

from __future__ import annotations

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, object_operation

GROUP = "Payments"
PAYMENT_INTENT_ID = s.stripe_id("pi", "Payment intent id (pi_...)")
CAPTURE_METHOD = s.enum(
    "automatic captures at once; manual only authorizes (capture later)",
    "automatic",
    "automatic_async",
    "manual",
)
SETUP_FUTURE_USAGE = s.enum(
    "Save the payment method for later payments", "on_session", "off_session"
)


def _changeable() -> dict[str, s.Schema]:
    """Fields of an intent people commonly set, for create and update."""
    return {
        "amount": s.integer(
            "Amount to collect, in the smallest currency unit (e.g. 1099 = $10.99)", minimum=1
        ),
        "currency": s.currency(),
        "customer": s.stripe_id("cus", "Customer id (cus_...)"),
        "description": s.string("Description shown in the Dashboard"),
        "metadata": s.metadata(),
        "payment_method": s.expandable(s.string("Payment method id (pm_...)")),
        "receipt_email": s.string("Where to send the receipt"),
        "statement_descriptor_suffix": s.string("Suffix on the card statement", max_length=22),
        "setup_future_usage": SETUP_FUTURE_USAGE,
        "capture_method": CAPTURE_METHOD,
        "expand": s.expand(),
    }


def _intent_action(key: str, label: str, suffix: str, description: str, **extra) -> Action:
    """A POST on ``/v1/payment_intents/{id}/<suffix>`` (cancel, confirm, capture)."""
    return object_operation(
        key=key,
        label=label,
        group=GROUP,
        description=description,
        resource="payment_intents",
        id_schema=PAYMENT_INTENT_ID,
        suffix=suffix,
        **extra,
    )


ACTIONS = [
    Action(
        key="create_payment_intent",
        label="Create Payment Intent",
        group=GROUP,
        description="Start collecting a payment of an amount in a currency.",
        method="POST",
        path="/v1/payment_intents",
        input_schema=s.input_schema(
            {
                **_changeable(),
                "payment_method_types": s.array(
                    s.string("e.g. card, sepa_debit"), "Accepted payment method types"
                ),
                "automatic_payment_methods": s.obj(
                    {
                        "enabled": s.boolean("Use the methods enabled in the Dashboard"),
                        "allow_redirects": s.enum("Allow methods that redirect", "always", "never"),
                    },
                    "Payment methods from the Dashboard settings",
                    required=("enabled",),
                ),
                "confirm": s.boolean("Confirm at once (needs payment_method)"),
                "off_session": s.boolean("The customer is not present (with confirm)"),
                "return_url": s.string("Where to send the customer after a redirect"),
            },
            required=["amount", "currency"],
            exclusive=[("automatic_payment_methods", "payment_method_types")],
        ),
    ),
    Action(
        key="update_payment_intent",
        label="Update Payment Intent",
        group=GROUP,
        description="Change an intent; what can change depends on its status.",
        method="POST",
        path="/v1/payment_intents/{id}",
        # Unsettable with "" (docs.stripe.com/api/payment_intents/update).
        input_schema=s.input_schema(
            {
                "id": PAYMENT_INTENT_ID,
                **s.clearing(_changeable(), "metadata", "setup_future_usage"),
            },
            required=["id"],
        ),
    ),
    Action(
        key="find_payment_intent",
        label="Find Payment Intent",
        group=GROUP,
        description="Retrieve a payment intent by id.",
        method="GET",
        path="/v1/payment_intents/{id}",
        input_schema=s.input_schema(
            {"id": PAYMENT_INTENT_ID, "expand": s.expand()}, required=["id"]
        ),
        mutates=False,
    ),
    _intent_action(
        "cancel_payment_intent",
        "Cancel Payment Intent",
        "cancel",
        "Cancel an intent that is not yet succeeded (Stripe has no delete).",
        cancellation_reason=s.enum(
            "Why it is canceled",
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ),
    ),
    _intent_action(
        "confirm_payment_intent",
        "Confirm Payment Intent",
        "confirm",
        "Confirm that the customer wants to pay; Stripe then attempts the payment.",
        payment_method=s.expandable(s.string("Payment method id (pm_...) to pay with")),
        return_url=s.string("Where to send the customer after a redirect"),
        off_session=s.boolean("The customer is not present"),
        receipt_email=s.string("Where to send the receipt"),
    ),
    _intent_action(
        "capture_payment_intent",
        "Capture Payment Intent",
        "capture",
        "Capture the funds of an authorized intent (capture_method manual).",
        amount_to_capture=s.integer(
            "Amount to capture, at most the authorized amount (default: all)", minimum=1
        ),
        statement_descriptor_suffix=s.string("Suffix on the card statement", max_length=22),
        metadata=s.metadata(),
    ),
]
