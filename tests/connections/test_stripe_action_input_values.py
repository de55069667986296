"""manage.py stripe_action converts and refuses inputs like every other entry point."""

import json
from io import StringIO
from urllib.parse import parse_qsl

import pytest
from django.core.management import CommandError, call_command

from .conftest import API

pytestmark = pytest.mark.django_db


def run(connection, action: str, given: dict) -> str:
    out = StringIO()
    call_command(
        "stripe_action", action, connection=connection.name, input=json.dumps(given), stdout=out
    )
    return out.getvalue()


def test_a_bracketed_metadata_key_is_a_clear_command_error(connection, stripe_mock):
    with pytest.raises(CommandError) as caught:
        run(connection, "create_customer", {"metadata": {"order[1]": "x"}})
    assert caught.value.returncode == 2
    assert "metadata" in str(caught.value)
    assert len(stripe_mock.calls) == 0


def test_an_empty_metadata_clears_it(connection, stripe_mock):
    stripe_mock.post(f"{API}/v1/customers/cus_1", json={"id": "cus_1"})
    run(connection, "update_customer", {"id": "cus_1", "metadata": ""})
    assert stripe_mock.calls[0].request.body == "metadata="


def test_a_number_in_metadata_is_sent_as_text(connection, stripe_mock):
    stripe_mock.post(f"{API}/v1/customers", json={"id": "cus_1"})
    run(connection, "create_customer", {"metadata": {"amount": 1099}})
    assert parse_qsl(stripe_mock.calls[0].request.body) == [("metadata[amount]", "1099")]


def test_an_expanded_customer_is_found_by_its_id(connection, stripe_mock):
    stripe_mock.get(f"{API}/v1/customers/cus_Exp1", json={"id": "cus_Exp1"})
    run(connection, "find_customer", {"id": {"id": "cus_Exp1", "object": "customer"}})
    assert stripe_mock.calls[0].request.url == f"{API}/v1/customers/cus_Exp1"


def test_a_trial_end_with_trial_period_days_is_refused(connection, stripe_mock):
    given = {
        "customer": "cus_1",
        "items": [{"price": "price_1"}],
        "trial_end": 1769904000,
        "trial_period_days": 7,
    }
    with pytest.raises(CommandError) as caught:
        run(connection, "create_subscription", given)
    assert caught.value.returncode == 2
    assert "trial_period_days" in str(caught.value)
    assert len(stripe_mock.calls) == 0
