"""Invoice actions (and invoice items): exact requests and outputs."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError
from tests.stripe_connector.data import assert_action_round_trip, stripe_object

INVOICE = stripe_object("invoice")
IN = INVOICE["id"]
OPEN = {**INVOICE, "status": "open", "number": "7FE1103-0001"}

CASES = [
    pytest.param(
        "create_invoice",
        {
            "customer": "cus_QXg1o8vcGmoR32",
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "auto_advance": False,
            "description": "Consulting, January",
            "pending_invoice_items_behavior": "include",
            "metadata": {"order id": "A-1"},
        },
        "POST",
        "/v1/invoices",
        [
            ("customer", "cus_QXg1o8vcGmoR32"),
            ("collection_method", "send_invoice"),
            ("days_until_due", "14"),
            ("auto_advance", "false"),
            ("description", "Consulting, January"),
            ("pending_invoice_items_behavior", "include"),
            ("metadata[order id]", "A-1"),
        ],
        INVOICE,
        id="create_invoice",
    ),
    pytest.param(
        "update_invoice",
        {"id": IN, "footer": "Thank you!", "due_date": 1769904000, "description": ""},
        "POST",
        f"/v1/invoices/{IN}",
        [("footer", "Thank you!"), ("due_date", "1769904000"), ("description", "")],
        {**INVOICE, "footer": "Thank you!"},
        id="update_invoice",
    ),
    pytest.param(
        "find_invoice",
        {"id": IN, "expand": ["customer", "subscription"]},
        "GET",
        f"/v1/invoices/{IN}",
        [("expand[0]", "customer"), ("expand[1]", "subscription")],
        INVOICE,
        id="find_invoice",
    ),
    pytest.param(
        "delete_invoice",
        {"id": IN},
        "DELETE",
        f"/v1/invoices/{IN}",
        [],
        stripe_object("deleted_invoice"),
        id="delete_invoice",
    ),
    pytest.param(
        "finalize_invoice",
        {"id": IN, "auto_advance": True},
        "POST",
        f"/v1/invoices/{IN}/finalize",
        [("auto_advance", "true")],
        OPEN,
        id="finalize_invoice",
    ),
    pytest.param(
        "mark_invoice_uncollectible",
        {"id": IN},
        "POST",
        f"/v1/invoices/{IN}/mark_uncollectible",
        [],
        {**OPEN, "status": "uncollectible"},
        id="mark_invoice_uncollectible",
    ),
    pytest.param(
        "pay_invoice",
        {"id": IN, "paid_out_of_band": True},
        "POST",
        f"/v1/invoices/{IN}/pay",
        [("paid_out_of_band", "true")],
        {**OPEN, "status": "paid", "amount_paid": 1000, "amount_remaining": 0},
        id="pay_invoice_out_of_band",
    ),
    pytest.param(
        "pay_invoice",
        {"id": IN, "payment_method": "pm_card_visa", "off_session": False, "forgive": True},
        "POST",
        f"/v1/invoices/{IN}/pay",
        [("payment_method", "pm_card_visa"), ("off_session", "false"), ("forgive", "true")],
        {**OPEN, "status": "paid"},
        id="pay_invoice_with_payment_method",
    ),
    pytest.param(
        "create_invoice_item",
        {
            "customer": "cus_QXg1o8vcGmoR32",
            "invoice": IN,
            "amount": 1000,
            "currency": "usd",
            "description": "My First Invoice Item (created for API docs)",
        },
        "POST",
        "/v1/invoiceitems",
        [
            ("customer", "cus_QXg1o8vcGmoR32"),
            ("invoice", IN),
            ("amount", "1000"),
            ("currency", "usd"),
            ("description", "My First Invoice Item (created for API docs)"),
        ],
        stripe_object("invoiceitem"),
        id="create_invoice_item_with_amount",
    ),
    pytest.param(
        "create_invoice_item",
        {"customer": "cus_QXg1o8vcGmoR32", "pricing": {"price": "price_123"}, "quantity": 3},
        "POST",
        "/v1/invoiceitems",
        [
            ("customer", "cus_QXg1o8vcGmoR32"),
            ("pricing[price]", "price_123"),
            ("quantity", "3"),
        ],
        stripe_object("invoiceitem", quantity=3),
        id="create_invoice_item_with_price",
    ),
    pytest.param(
        "send_invoice",
        {"id": IN},
        "POST",
        f"/v1/invoices/{IN}/send",
        [],
        OPEN,
        id="send_invoice",
    ),
    pytest.param(
        "void_invoice",
        {"id": IN, "expand": ["customer"]},
        "POST",
        f"/v1/invoices/{IN}/void",
        [("expand[0]", "customer")],
        {**OPEN, "status": "void"},
        id="void_invoice",
    ),
]


@pytest.mark.parametrize(("key", "given", "method", "path", "pairs", "answer"), CASES)
def test_it_sends_the_exact_request_and_returns_stripes_object(
    key, given, method, path, pairs, answer, stripe_mock, stripe_client, stripe_key
):
    assert_action_round_trip(
        stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
    )


@pytest.mark.parametrize(
    ("key", "given", "errors"),
    [
        (
            "create_invoice",
            {"auto_advance": True},
            [{"field": "customer", "message": "is required"}],
        ),
        (
            "create_invoice",
            {"customer": "cus_1", "collection_method": "by_post"},
            [
                {
                    "field": "collection_method",
                    "message": "must be one of: charge_automatically, send_invoice",
                }
            ],
        ),
        (
            "update_invoice",
            {"id": IN, "days_until_due": 3, "due_date": 1769904000},
            [{"field": "due_date", "message": "give only one of: days_until_due, due_date"}],
        ),
        (
            "pay_invoice",
            {"id": IN, "paid_out_of_band": "yes"},
            [{"field": "paid_out_of_band", "message": "must be of type boolean, got str"}],
        ),
        (
            "create_invoice_item",
            {"customer": "cus_1", "currency": "usd"},
            [{"field": "amount", "message": "give one of: amount, pricing"}],
        ),
        (
            "void_invoice",
            {"id": "cus_QXg1o8vcGmoR32"},
            [
                {
                    "field": "id",
                    "message": "has an invalid format (expected to match ^(in)_[A-Za-z0-9]+$)",
                }
            ],
        ),
    ],
)
def test_it_refuses_bad_input_naming_the_field_before_any_request(
    key, given, errors, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action(key).run(stripe_client, given)
    assert caught.value.errors == errors
    assert len(stripe_mock.calls) == 0
