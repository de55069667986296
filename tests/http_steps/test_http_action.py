"""The HTTP request action: its declaration, its request, its output and its errors."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from connections.outbound import HttpClient
from stripe_connector.catalog import GROUPS, action_choices, get_action
from stripe_connector.catalog.http import TEXT_LIMIT
from stripe_connector.errors import (
    ActionInputError,
    APIError,
    AuthenticationError,
    InvalidRequestError,
    RateLimitError,
)
from tests.http_steps.server import Answer, echo

pytestmark = pytest.mark.django_db
ACTION = get_action("http_request")


def run(data, key="idem-1"):
    return ACTION.run(HttpClient(), data, idempotency_key=key)


def test_it_is_in_the_catalog_in_its_own_group():
    assert ACTION.group == "HTTP" and "HTTP" in GROUPS
    assert ("HTTP", [("http_request", "HTTP request")]) in action_choices()
    assert "1 MB" in ACTION.description and f"{TEXT_LIMIT:,} characters" in ACTION.description
    for part in (
        "method",
        "url",
        "credential",
        "query",
        "headers",
        "json_body",
        "form_body",
        "text_body",
    ):
        assert part in ACTION.input_schema["properties"]


def test_the_api_catalog_lists_it_with_its_schema(django_user_model):
    user = django_user_model.objects.create_user("reader", password="x-123456!")
    client = APIClient()
    client.force_authenticate(user)
    body = client.get("/api/v1/catalog/actions/http_request/").json()
    assert (body["group"], body["label"]) == ("HTTP", "HTTP request")
    assert body["input_schema"] == ACTION.input_schema
    listed = client.get("/api/v1/catalog/actions/").json()
    assert "http_request" in [item["key"] for item in listed]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"method": "GET", "url": "ftp://x.example.com/"}, "url", "invalid format"),
        ({"method": "GET", "url": "https://crm.invalid/replace-me"}, "url", "placeholder"),
        ({"method": "GET", "url": "https://u:p@x.example.com/"}, "url", "user name or password"),
        (
            {"method": "GET", "url": "https://x.example.com/", "text_body": "x"},
            "text_body",
            "GET request carries no body",
        ),
        (
            {
                "method": "POST",
                "url": "https://x.example.com/",
                "text_body": "x",
                "json_body": {"a": 1},
            },
            "text_body",
            "only one of",
        ),
        (
            {"method": "POST", "url": "https://x.example.com/", "headers": {"Authorization": "x"}},
            "headers.Authorization",
            "use a credential",
        ),
        (
            {"method": "POST", "url": "https://x.example.com/", "headers": {"Host": "evil"}},
            "headers.Host",
            "leave it out",
        ),
        (
            {"method": "POST", "url": "https://x.example.com/", "headers": {"X-A": "1\r\nX-B: 2"}},
            "headers.X-A",
            "line breaks",
        ),
        ({"method": "TRACE", "url": "https://x.example.com/"}, "method", "must be one of"),
        ({"url": "https://x.example.com/"}, "method", "is required"),
    ],
)
def test_bad_input_names_the_field_and_sends_nothing(data, field, message, server):
    with pytest.raises(ActionInputError) as caught:
        run(data)
    assert field in caught.value.fields
    assert message in str(caught.value)
    assert server.seen == []


def test_query_headers_and_a_json_body_are_sent(server, allow_loopback):
    server.answer(echo)
    result = run(
        {
            "method": "POST",
            "url": f"{server.url}/hook?fixed=1",
            "query": {"page": 2, "q": "a b"},
            "headers": {"X-Team": "ops", "Content-Type": "application/vnd.api+json"},
            "json_body": {"name": "Jenny", "tags[0]": ["a"], "n": 1.5},
        },
        key="step-key-1",
    )
    seen = server.seen[0]
    assert seen.path == "/hook?fixed=1&page=2&q=a+b"
    assert json.loads(seen.body) == {"name": "Jenny", "tags[0]": ["a"], "n": 1.5}
    assert seen.header("Content-Type") == "application/vnd.api+json"  # the step's header wins
    assert seen.header("X-Team") == "ops"
    assert seen.header("Idempotency-Key") == "step-key-1"
    assert result.output["status"] == 200
    assert result.output["body"]["headers"]["X-Team"] == "ops"
    assert result.request_id is None


def test_form_and_text_bodies(server, allow_loopback):
    run({"method": "PUT", "url": server.url, "form_body": {"a": "1", "b": "x y"}})
    run({"method": "PATCH", "url": server.url, "text_body": "plain words"})
    form, text = server.seen
    assert (form.method, form.body) == ("PUT", b"a=1&b=x+y")
    assert form.header("Content-Type") == "application/x-www-form-urlencoded"
    assert (text.method, text.body) == ("PATCH", b"plain words")
    assert text.header("Content-Type") == "text/plain; charset=utf-8"


def test_the_output_keeps_selected_headers_and_cuts_long_text(server, allow_loopback):
    server.answer(
        Answer(
            status=201,
            headers={
                "Content-Type": "text/html",
                "Location": "/new/1",
                "X-Request-Id": "r-1",
                "Set-Cookie": "session=abc",
                "Server-Timing": "db;dur=3",
            },
            body=b"<p>" + b"y" * (TEXT_LIMIT + 100),
        )
    )
    output = run({"method": "GET", "url": server.url}).output
    assert output["status"] == 201
    assert output["headers"] == {
        "content-type": "text/html",
        "location": "/new/1",
        "x-request-id": "r-1",
    }
    assert len(output["body"]) == TEXT_LIMIT and output["body"].startswith("<p>yyy")
    assert output["body_truncated"] is True
    assert output["url"] == f"{server.url}/"


def test_json_answers_are_parsed_and_invalid_json_is_text(server, allow_loopback):
    server.answer(
        Answer(headers={"Content-Type": "application/json; charset=utf-8"}, body=b'{"a": [1]}'),
        Answer(headers={"Content-Type": "application/json"}, body=b"{not json"),
    )
    assert run({"method": "GET", "url": server.url}).output["body"] == {"a": [1]}
    second = run({"method": "GET", "url": server.url}).output
    assert (second["body"], second["body_truncated"]) == ("{not json", False)


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (400, InvalidRequestError, False),
        (401, AuthenticationError, False),
        (404, InvalidRequestError, False),
        (409, Exception, False),
        (422, Exception, False),
        (429, RateLimitError, True),
        (500, APIError, True),
        (503, APIError, True),
    ],
)
def test_error_answers_are_classified_like_stripe_errors(
    status, error, retryable, server, allow_loopback
):
    server.answer(
        Answer(
            status=status,
            headers={
                "Content-Type": "application/json",
                "Retry-After": "7",
                "Request-Id": "req_abc",
            },
            body=b'{"error": "the email is taken"}',
        )
    )
    with pytest.raises(error) as caught:
        run({"method": "POST", "url": f"{server.url}/x", "json_body": {}})
    err = caught.value
    assert (err.http_status, err.retryable, err.type) == (status, retryable, "http_error")
    assert f"POST 127.0.0.1:{server.port} answered HTTP {status}" in err.message
    assert "the email is taken" in err.message and "req_abc" in err.message
    assert err.retry_after == 7.0


def test_a_refused_address_fails_without_sending(server):
    with pytest.raises(Exception) as caught:
        run({"method": "GET", "url": server.url})
    assert caught.value.type == "outbound_refused"
    assert caught.value.message.startswith("refused: 127.0.0.1 is a loopback address")
    assert server.seen == []
