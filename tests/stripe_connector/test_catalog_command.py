"""``manage.py stripe_catalog``: the table for people, ``--json`` for machines."""

import json
from io import StringIO

from django.core.management import call_command

from stripe_connector.catalog import ACTIONS, GROUPS, TRIGGERS
from stripe_connector.client import DEFAULT_API_VERSION


def _run(*args: str) -> str:
    out = StringIO()
    call_command("stripe_catalog", *args, stdout=out)
    return out.getvalue()


def test_the_table_lists_every_trigger_and_action_grouped_like_the_product_page():
    lines = _run().splitlines()
    assert lines[0] == "Triggers (26)"
    assert lines[1].split() == ["Group", "Label", "Key", "Stripe", "event"]
    actions_at = lines.index("Actions (44)")
    assert lines[actions_at + 1].split() == ["Group", "Label", "Key", "Stripe", "call"]
    rows = lines[actions_at + 3 :]
    assert len(rows) == 44
    assert rows[0].split() == [
        "Customers",
        "Create",
        "Customer",
        "create_customer",
        "POST",
        "/v1/customers",
    ]
    # The group is printed once, on the first row of its group.
    assert rows[1].split() == [
        "Update",
        "Customer",
        "update_customer",
        "POST",
        "/v1/customers/{id}",
    ]
    shown_groups = [row[:18].strip() for row in rows if row[:18].strip()]
    assert shown_groups == GROUPS


def test_the_table_shows_how_special_actions_call_stripe():
    text = _run()
    assert "Payment Intent Canceled       payment_intent.canceled" in text
    assert "GET /v1/accounts/{id} (without id: GET /v1/account)" in text
    assert "GET /v1/subscriptions/{id} (si_ ids: GET /v1/subscription_items/{id})" in text
    assert "POST /v1/prices/{id} (active=false)" in text
    assert "(any event type)" in text


def test_json_carries_schemas_but_no_samples_by_default():
    data = json.loads(_run("--json"))
    assert data["api_version"] == DEFAULT_API_VERSION
    assert data["groups"] == GROUPS
    assert [t["key"] for t in data["triggers"]] == list(TRIGGERS)
    assert [a["key"] for a in data["actions"]] == list(ACTIONS)
    assert all("sample" not in t for t in data["triggers"])
    create_price = next(a for a in data["actions"] if a["key"] == "create_price")
    assert create_price == ACTIONS["create_price"].to_dict()
    assert create_price["input_schema"]["properties"]["recurring"]["required"] == ["interval"]


def test_json_with_samples_includes_every_sample_event():
    data = json.loads(_run("--json", "--samples"))
    samples = {t["key"]: t["sample"] for t in data["triggers"]}
    assert samples == {key: trigger.sample for key, trigger in TRIGGERS.items()}
