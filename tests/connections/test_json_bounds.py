"""The receiver and ``manage.py stripe_action`` read JSON under the product's one bound:
a number that overflows to infinity is refused like the literal Infinity (400, never
stored: no database column takes it), and so is nesting past the bound."""

import pytest
from django.core.management import CommandError, call_command

from connections.models import InboxEvent

pytestmark = pytest.mark.django_db

ENVELOPE = b'{"id": "evt_overflow", "type": "customer.created", "created": 1700000000, '


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1" + b"0" * 5000])
def test_the_receiver_refuses_a_number_no_database_can_store_naming_the_field(
    connection, deliver, number
):
    body = (
        ENVELOPE + b'"livemode": false, "data": {"object": {"id": "cus_1", "v": ' + number + b"}}}"
    )
    response = deliver(connection, body)
    assert response.status_code == 400
    assert "data.object.v" in response.json()["error"]
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"metadata": {"k": 1e400}}', "--input's metadata.k must be a finite number"),
        (
            '{"metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
            r"--input's metadata\[0\]\[0\]\[0\] is nested",
        ),
        ('{"metadata": ' + '{"a": ' * 100 + "1" + "}" * 101, "nested deeper than 64"),
    ],
)
def test_stripe_action_refuses_input_past_the_bound(connection, value, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "stripe_action", "create_customer", "--connection", connection.name, "--input", value
        )
