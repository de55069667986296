"""Oversize, non-JSON and non-event bodies are refused with the documented statuses."""

import json

import pytest

from connections.inbox import MAX_EVENT_DEPTH, NotAnEvent, ingest
from connections.models import InboxEvent
from connections.views import MAX_BODY_BYTES

from .conftest import make_event, signed_headers

pytestmark = pytest.mark.django_db


def test_it_answers_413_to_a_body_over_one_mebibyte(connection, deliver):
    event = make_event()
    event["padding"] = "x" * MAX_BODY_BYTES
    response = deliver(connection, event)
    assert response.status_code == 413
    assert not InboxEvent.objects.exists()


def test_it_answers_413_before_checking_the_signature(connection, deliver):
    response = deliver(connection, b"x" * (MAX_BODY_BYTES + 1), secret=None)
    assert response.status_code == 413


def test_it_answers_400_to_a_signed_body_that_is_not_json(connection, deliver):
    response = deliver(connection, b"not json at all {")
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'{"type": "customer.created"}',
        b'{"id": "cus_123", "type": "customer.created"}',
        b'{"id": "evt_123"}',
        b'{"id": "evt_123", "type": ""}',
    ],
)
def test_it_answers_400_to_json_that_is_not_an_event_envelope(connection, deliver, body):
    response = deliver(connection, body)
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b'"a\\u0000b"', b'"a\\ud800b"', b'{"k\\u0000": 1}'],
)
def test_it_answers_400_to_values_no_database_can_store(connection, deliver, value):
    # A 503 here would make Stripe deliver the same unstorable body again for days.
    body = b'{"id": "evt_unstorable", "type": "customer.created", "data": {"object": {"v": '
    response = deliver(connection, body + value + b"}}}")
    assert response.status_code == 400
    assert not InboxEvent.objects.exists()


def test_it_stores_ordinary_unicode(connection, deliver, enqueued):
    event = make_event()
    event["data"]["object"]["name"] = "Zoë 😀 \\u0000 as text"
    assert deliver(connection, event).status_code == 200
    assert InboxEvent.objects.get().payload["data"]["object"]["name"] == "Zoë 😀 \\u0000 as text"


def nested(depth: int) -> dict:
    """A value ``depth`` JSON levels deep: a dict holding a list holding a dict ..."""
    value: object = {}
    for level in range(depth - 1):
        value = [value] if level % 2 else {"inner": value}
    return value


def test_it_answers_400_to_a_signed_body_nested_a_thousand_levels_deep(connection, deliver):
    body = b'{"id": "evt_deep", "type": "customer.created", "data": {"object": '
    body += b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}}"
    response = deliver(connection, body)
    assert response.status_code == 400
    assert "nested" in response.json()["error"]
    assert not InboxEvent.objects.exists()


def test_it_answers_400_to_an_event_nested_deeper_than_the_maximum(connection, deliver):
    # Deep enough to refuse, shallow enough for any JSON parser: the bound is ours.
    event = make_event(data={"object": nested(MAX_EVENT_DEPTH - 1)})
    response = deliver(connection, event)
    assert response.status_code == 400
    assert str(MAX_EVENT_DEPTH) in response.json()["error"]
    assert not InboxEvent.objects.exists()


def test_it_stores_an_event_nested_exactly_to_the_maximum(connection, deliver, enqueued):
    # The envelope is level 1 and data level 2: data.object may hold the rest.
    event = make_event(data={"object": nested(MAX_EVENT_DEPTH - 2)})
    assert deliver(connection, event).status_code == 200
    assert InboxEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("livemode", "true"),
        ("livemode", "false"),
        ("livemode", 1),
        ("livemode", 0),
        ("livemode", None),
        ("livemode", {}),
        ("id", 123),
        ("type", ["customer.created"]),
        ("object", "customer"),
        ("created", "1700000000"),
        ("created", 1.5),
        ("created", True),
        ("created", -1),
        ("created", 10**12),
        ("api_version", 2026),
        ("data", []),
        ("data", {"previous_attributes": {}}),
        ("data", {"object": "cus_123"}),
        ("data", {"object": None}),
    ],
)
def test_it_answers_400_naming_an_envelope_field_of_the_wrong_type(
    connection, deliver, enqueued, field, value
):
    response = deliver(connection, make_event(**{field: value}))
    assert response.status_code == 400
    assert field in response.json()["error"]
    assert not InboxEvent.objects.exists()
    assert enqueued == []


def test_a_string_livemode_is_never_taken_as_the_connections_mode(connection, enqueued):
    # "false" is truthy: taken as a mode it would dispatch a live event as a test one.
    with pytest.raises(NotAnEvent, match="livemode"):
        ingest(connection, make_event(livemode="false"))
    assert not InboxEvent.objects.exists()


def test_optional_envelope_fields_may_be_absent_or_null_where_stripe_allows(
    connection, deliver, enqueued
):
    event = make_event(api_version=None)
    for field in ("livemode", "created", "object", "request"):
        del event[field]
    assert deliver(connection, event).status_code == 200
    stored = InboxEvent.objects.get()
    assert stored.livemode is False  # the connection's mode
    assert stored.api_version == ""


def test_the_receiver_checks_the_envelope_once(connection, deliver, monkeypatch):
    from connections import inbox

    calls = []
    walk = inbox._check_contents  # every check_envelope walks the whole payload once
    monkeypatch.setattr(inbox, "_check_contents", lambda payload: calls.append(1) or walk(payload))
    response = deliver(connection, make_event())
    assert response.status_code == 200
    assert len(calls) == 1


def chunked_environ(path: str, body: bytes, **headers) -> dict:
    """A WSGI environ as gunicorn builds it for a chunked request: no CONTENT_LENGTH, the
    decoded body on wsgi.input, and ``wsgi.input_terminated`` set."""
    import io
    import sys

    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }


def call_wsgi(environ: dict) -> tuple[str, bytes]:
    from django.core.handlers.wsgi import WSGIHandler

    statuses = []
    answer = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
    try:
        return statuses[0], b"".join(answer)
    finally:
        answer.close()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_delivery_without_content_length_is_read_and_stored(connection, enqueued):
    event = make_event()
    body = json.dumps(event).encode()
    environ = chunked_environ(
        connection.webhook_path,
        body,
        HTTP_STRIPE_SIGNATURE=signed_headers(body)["HTTP_STRIPE_SIGNATURE"],
    )

    status, answer = call_wsgi(environ)

    assert status.startswith("200"), answer
    assert json.loads(answer) == {"received": event["id"], "duplicate": False}
    assert InboxEvent.objects.get().payload == event


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_is_refused_with_413(connection):
    environ = chunked_environ(
        connection.webhook_path, b"x" * (MAX_BODY_BYTES + 10), HTTP_STRIPE_SIGNATURE="t=1,v1=00"
    )

    status, _ = call_wsgi(environ)

    assert status.startswith("413")
    assert not InboxEvent.objects.exists()
