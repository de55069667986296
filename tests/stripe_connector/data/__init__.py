"""Test data and one assertion helper for the catalog's action tests.

``stripe_objects.json`` holds Stripe's example objects (stripe/openapi,
``openapi/fixtures3.json``, MIT license), trimmed: realistic answers for the
mocked API.
"""

import copy
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from stripe_connector.catalog import get_action
from stripe_connector.client import DEFAULT_API_VERSION

_OBJECTS = json.loads((Path(__file__).parent / "stripe_objects.json").read_text(encoding="utf-8"))
API = "https://api.stripe.com"


def stripe_object(name: str, **changes) -> dict:
    """A fresh copy of Stripe's example ``name`` object (customer, invoice, ...), changed."""
    obj = copy.deepcopy(_OBJECTS[name])
    obj.update(changes)
    return obj


def sent_pairs(request) -> list[tuple[str, str]]:
    """The parameters of a request as Stripe decodes them: body for POST, else query."""
    if request.method == "POST":
        return parse_qsl(request.body or "", keep_blank_values=True)
    assert not request.body
    return parse_qsl(urlsplit(request.url).query, keep_blank_values=True)


def assert_sent(
    request, method: str, path: str, pairs: list[tuple[str, str]], key: str, idempotency_key=None
) -> None:
    """Method, path, exact parameters (order too) and Stripe's headers of one request."""
    assert request.method == method
    assert urlsplit(request.url).path == path
    assert urlsplit(request.url).netloc == "api.stripe.com"
    assert sent_pairs(request) == pairs
    assert request.headers["Authorization"] == f"Bearer {key}"
    assert request.headers["Stripe-Version"] == DEFAULT_API_VERSION
    if method == "POST":
        assert request.headers["Idempotency-Key"] == idempotency_key
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    else:
        assert "Idempotency-Key" not in request.headers


def assert_action_round_trip(
    stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
) -> None:
    """Run action ``key`` once against a mocked answer: the exact request out, the object back."""
    stripe_mock.add(method, API + path, json=answer, headers={"Request-Id": "req_case"})
    result = get_action(key).run(stripe_client, given, idempotency_key="step-run-key-1")
    assert len(stripe_mock.calls) == 1
    expected_key = "step-run-key-1" if method == "POST" else None
    assert_sent(stripe_mock.calls[0].request, method, path, pairs, stripe_key, expected_key)
    assert result.output == answer
    assert result.request_id == "req_case"
