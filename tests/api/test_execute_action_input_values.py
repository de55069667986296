"""The actions endpoint converts and refuses inputs as Stripe reads them: 400, never 500."""

from urllib.parse import parse_qsl

import pytest

from tests.api.conftest import API, field_errors

pytestmark = pytest.mark.django_db


def run(client, connection, key: str, given: dict):
    return client.post(
        f"/api/v1/connections/{connection.pk}/actions/{key}/", {"input": given}, format="json"
    )


def sent(stripe) -> list[tuple[str, str]]:
    return parse_qsl(stripe.calls[0].request.body or "", keep_blank_values=True)


def test_a_metadata_key_with_brackets_is_a_400_naming_input_metadata(
    superuser_api, connection, stripe
):
    response = run(superuser_api, connection, "create_customer", {"metadata": {"order[1]": "x"}})
    assert response.status_code == 400
    assert field_errors(response) == {"input.metadata": "key 'order[1]' must not contain [ or ]"}
    assert len(stripe.calls) == 0


def test_the_raw_api_request_with_a_bracketed_key_is_a_400_not_a_500(
    superuser_api, connection, stripe
):
    given = {"method": "POST", "path": "/v1/customers", "params": {"metadata": {"a[b]": "x"}}}
    response = run(superuser_api, connection, "stripe_api_request", given)
    assert response.status_code == 400
    assert list(field_errors(response)) == ["input.params.metadata"]
    assert len(stripe.calls) == 0


def test_an_empty_metadata_clears_it(superuser_api, connection, stripe):
    stripe.post(f"{API}/v1/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    response = run(superuser_api, connection, "update_customer", {"id": "cus_1", "metadata": ""})
    assert response.status_code == 200, response.content
    assert stripe.calls[0].request.body == "metadata="


def test_a_number_in_metadata_is_sent_as_text(superuser_api, connection, stripe):
    stripe.post(f"{API}/v1/customers", json={"id": "cus_1", "object": "customer"})
    response = run(superuser_api, connection, "create_customer", {"metadata": {"amount": 1099}})
    assert response.status_code == 200, response.content
    assert sent(stripe) == [("metadata[amount]", "1099")]


def test_an_expanded_customer_is_found_by_its_id(superuser_api, connection, stripe):
    stripe.get(f"{API}/v1/customers/cus_Exp1", json={"id": "cus_Exp1", "object": "customer"})
    given = {"id": {"id": "cus_Exp1", "object": "customer"}}
    response = run(superuser_api, connection, "find_customer", given)
    assert response.status_code == 200, response.content
    assert stripe.calls[0].request.url == f"{API}/v1/customers/cus_Exp1"


def test_exclusive_fields_are_a_400_naming_both(superuser_api, connection, stripe):
    given = {"id": "sub_1", "cancel_at": 1769904000, "cancel_at_period_end": True}
    response = run(superuser_api, connection, "update_subscription", given)
    assert response.status_code == 400
    assert field_errors(response) == {
        "input.cancel_at_period_end": "give only one of: cancel_at, cancel_at_period_end"
    }
    assert len(stripe.calls) == 0


def test_a_metered_price_without_meter_is_a_400(superuser_api, connection, stripe):
    given = {
        "currency": "usd",
        "product": "prod_1",
        "unit_amount": 5,
        "recurring": {"interval": "month", "usage_type": "metered"},
    }
    response = run(superuser_api, connection, "create_price", given)
    assert response.status_code == 400
    assert field_errors(response) == {
        "input.recurring.meter": "is required when usage_type is metered"
    }
