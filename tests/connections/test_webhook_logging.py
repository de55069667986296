"""Each rejection logs one WARNING naming the connection and the reason, never a secret."""

import logging
import time

import pytest

from connections.models import Connection
from connections.views import MAX_BODY_BYTES

from .conftest import SECRET_KEY, WEBHOOK_SECRET, make_event

pytestmark = pytest.mark.django_db


def warnings_from(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "connections.views" and r.levelname == "WARNING"]


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("oversize", 413, "Body over"),
        ("no header", 400, "Missing Stripe-Signature"),
        ("wrong secret", 400, "No signature matches"),
        ("stale", 400, "too old"),
        ("not json", 400, "not JSON"),
        ("disabled", 404, "disabled"),
    ],
)
def test_each_rejection_logs_one_warning_with_the_connection_and_the_reason(
    connection, deliver, caplog, case, status, reason
):
    kwargs = {}
    event = make_event()
    if case == "oversize":
        event["padding"] = "x" * MAX_BODY_BYTES
    if case == "no header":
        kwargs["secret"] = None
    if case == "wrong secret":
        kwargs["secret"] = "whsec_wrong_wrong_wrong"
    if case == "stale":
        kwargs["timestamp"] = int(time.time()) - 3600
    if case == "not json":
        event = b"{{{"
    if case == "disabled":
        connection.status = Connection.Status.DISABLED
        connection.save()

    with caplog.at_level(logging.INFO):
        response = deliver(connection, event, **kwargs)

    assert response.status_code == status
    records = warnings_from(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert str(connection.id) in message
    assert reason in message
    assert WEBHOOK_SECRET not in caplog.text
    assert SECRET_KEY not in caplog.text


def test_an_accepted_delivery_logs_no_secret(connection, deliver, caplog, enqueued):
    with caplog.at_level(logging.DEBUG):
        assert deliver(connection, make_event()).status_code == 200
    assert WEBHOOK_SECRET not in caplog.text
    assert SECRET_KEY not in caplog.text
    assert not warnings_from(caplog)
