"""Search actions: query compilation (quoting, escaping, ranges, AND/OR) and paging."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.catalog.search import clamp_limit, compile_query, quote
from stripe_connector.errors import ActionInputError
from tests.stripe_connector.data import API, assert_sent, stripe_object

INVOICE = stripe_object("invoice")


def _fields(key):
    return get_action(key).search_fields


def _page(objects, *, has_more=False, next_page=None, url="/v1/invoices/search"):
    return {
        "object": "search_result",
        "data": objects,
        "has_more": has_more,
        "next_page": next_page,
        "url": url,
    }


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "'plain'"),
        ("O'Brien", "'O\\'Brien'"),
        ("back\\slash", "'back\\\\slash'"),
        ("ends with \\'", "'ends with \\\\\\''"),
        ("Zürich \u2013 東京 🚀", "'Zürich \u2013 東京 🚀'"),
        ("", "''"),
    ],
)
def test_quote_escapes_backslashes_before_quotes_and_keeps_unicode(value, quoted):
    assert quote(value) == quoted


@pytest.mark.parametrize(
    ("key", "given", "query"),
    [
        (
            "search_invoice",
            {"status": "open", "customer": "cus_QXg1o8vcGmoR32", "total": {"gte": 1000}},
            "status:'open' AND customer:'cus_QXg1o8vcGmoR32' AND total>=1000",
        ),
        (
            "search_invoice",
            {"created": {"gte": 1767225600, "lt": 1769904000}, "currency": "usd"},
            "created>=1767225600 AND created<1769904000 AND currency:'usd'",
        ),
        (
            "search_invoice",
            {"total": {"eq": 1000}, "number": "7FE1103-0001", "receipt_number": "2200-1234"},
            "number:'7FE1103-0001' AND receipt_number:'2200-1234' AND total:1000",
        ),
        (
            "search_invoice",
            {"subscription": "sub_1", "total": {"gt": 0, "lte": 5000}},
            "subscription:'sub_1' AND total>0 AND total<=5000",
        ),
        (
            "search_product",
            {"metadata": {"order id": "A 1", "it's": "x\\y"}, "active": True},
            "active:'true' AND metadata['order id']:'A 1' AND metadata['it\\'s']:'x\\\\y'",
        ),
        (
            "search_product",
            {"name": "Café 'Deluxe'", "shippable": False, "url": "https://example.com/p"},
            "name:'Café \\'Deluxe\\'' AND shippable:'false' AND url:'https://example.com/p'",
        ),
        (
            "search_product",
            {"description": "Comfortable", "combine": "OR", "name": "T-shirt"},
            "name:'T-shirt' OR description:'Comfortable'",
        ),
        (
            "search_price",
            {"product": "prod_1", "type": "recurring", "currency": "eur", "lookup_key": "pro"},
            "currency:'eur' AND lookup_key:'pro' AND product:'prod_1' AND type:'recurring'",
        ),
        (
            "search_price",
            {"active": False, "metadata": {"tier": "gold"}, "combine": "OR"},
            "active:'false' OR metadata['tier']:'gold'",
        ),
        (
            "search_subscription",
            {"status": "past_due", "canceled_at": {"lt": 1767225600}, "created": {"gt": 1}},
            "status:'past_due' AND created>1 AND canceled_at<1767225600",
        ),
        (
            "search_subscription",
            {"status": "active", "created": {"gte": 1767225600}, "combine": "OR"},
            "status:'active' OR created>=1767225600",
        ),
        (
            "search_invoice",
            {"query": "status:'open' AND -currency:'usd'", "limit": 5},
            "status:'open' AND -currency:'usd'",
        ),
    ],
)
def test_structured_fields_compile_into_one_stripe_query(key, given, query):
    action = get_action(key)
    assert compile_query(action.search_fields, action.validate(given)) == query


@pytest.mark.parametrize(
    ("key", "given"),
    [
        ("search_invoice", {"status": "open", "customer": "cus_1"}),
        ("search_subscription", {"status": "active", "metadata": {"a": "1", "b": "2"}}),
        ("search_product", {"name": "x", "combine": "OR", "metadata": {"a": "1"}}),
    ],
)
def test_a_query_never_mixes_and_with_or(key, given):
    action = get_action(key)
    query = compile_query(action.search_fields, action.validate(given))
    assert (" AND " in query) != (" OR " in query)


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        (
            {"created": {"gte": 1, "lte": 2}, "status": "open", "combine": "OR"},
            [{"field": "created", "message": "a range with two bounds needs combine AND"}],
        ),
        (
            {"query": "status:'open'", "status": "open"},
            [{"field": "query", "message": "give a raw query or search fields, not both"}],
        ),
        (
            {"limit": 10},
            [
                {
                    "field": "query",
                    "message": "give a raw query or one of: status, customer, created, currency, "
                    "metadata, number, receipt_number, subscription, total",
                }
            ],
        ),
        (
            {"status": "paid", "combine": "XOR"},
            [{"field": "combine", "message": "must be one of: AND, OR"}],
        ),
        (
            {"total": {}},
            [{"field": "total", "message": "{} should be non-empty"}],
        ),
        (
            {"total": {"above": 5}},
            [{"field": "total.above", "message": "is not a known field"}],
        ),
        (
            {"created": {"gte": "yesterday"}},
            [{"field": "created.gte", "message": "must be of type integer, got str"}],
        ),
        (
            {"status": "unpaid"},
            [
                {
                    "field": "status",
                    "message": "must be one of: draft, open, paid, uncollectible, void",
                }
            ],
        ),
        (
            {"status": "open", "fetch_all": True, "page": "page_abc"},
            [{"field": "page", "message": "fetch_all starts from the first page"}],
        ),
    ],
)
def test_search_input_errors_name_the_field_and_send_nothing(
    given, errors, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action("search_invoice").run(stripe_client, given)
    assert caught.value.errors == errors
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    ("limit", "sent"), [(None, 10), (0, 1), (-3, 1), (50, 50), (100, 100), (500, 100)]
)
def test_limit_is_clamped_to_stripes_range(limit, sent):
    assert clamp_limit(limit) == sent


@pytest.mark.parametrize(
    ("key", "path", "given", "query", "answer"),
    [
        (
            "search_invoice",
            "/v1/invoices/search",
            {"status": "open", "limit": 500},
            "status:'open'",
            INVOICE,
        ),
        (
            "search_price",
            "/v1/prices/search",
            {"lookup_key": "pro_monthly", "limit": 0},
            "lookup_key:'pro_monthly'",
            stripe_object("price"),
        ),
        (
            "search_product",
            "/v1/products/search",
            {"metadata": {"sku": "TS-1"}, "limit": 20, "page": "page_abc"},
            "metadata['sku']:'TS-1'",
            stripe_object("product"),
        ),
        (
            "search_subscription",
            "/v1/subscriptions/search",
            {"query": "status:'active'"},
            "status:'active'",
            stripe_object("subscription"),
        ),
    ],
)
def test_each_search_sends_query_and_clamped_limit_and_returns_a_page(
    key, path, given, query, answer, stripe_mock, stripe_client, stripe_key
):
    page = _page([answer], has_more=True, next_page="page_next", url=path)
    stripe_mock.add("GET", API + path, json=page, headers={"Request-Id": "req_search"})
    result = get_action(key).run(stripe_client, given, idempotency_key="ignored-on-get")
    limit = str(min(100, max(1, given.get("limit", 10))))
    pairs = [("query", query), ("limit", limit)]
    if "page" in given:
        pairs.append(("page", given["page"]))
    assert_sent(stripe_mock.calls[0].request, "GET", path, pairs, stripe_key)
    assert result.output == {"data": [answer], "has_more": True, "next_page": "page_next"}
    assert result.request_id == "req_search"


def test_fetch_all_follows_next_page_up_to_the_cap(stripe_mock, stripe_client, stripe_key):
    first = [stripe_object("invoice", id=f"in_{n}") for n in range(2)]
    second = [stripe_object("invoice", id=f"in_{n}") for n in range(2, 4)]
    stripe_mock.add(
        "GET", f"{API}/v1/invoices/search", json=_page(first, has_more=True, next_page="p2")
    )
    stripe_mock.add(
        "GET", f"{API}/v1/invoices/search", json=_page(second, has_more=True, next_page="p3")
    )
    result = get_action("search_invoice").run(
        stripe_client, {"customer": "cus_1", "fetch_all": True, "limit": 2, "max_results": 3}
    )
    assert [call.request.url.split("?")[1] for call in stripe_mock.calls] == [
        "query=customer%3A%27cus_1%27&limit=2",
        "query=customer%3A%27cus_1%27&limit=1&page=p2",
    ]
    assert [obj["id"] for obj in result.output["data"]] == ["in_0", "in_1", "in_2"]
    assert result.output["has_more"] is True
    assert result.output["next_page"] is None


def test_fetch_all_stops_when_stripe_has_no_more(stripe_mock, stripe_client):
    stripe_mock.add("GET", f"{API}/v1/prices/search", json=_page([stripe_object("price")]))
    result = get_action("search_price").run(stripe_client, {"active": True, "fetch_all": True})
    assert result.output == {"data": [stripe_object("price")], "has_more": False, "next_page": None}
    assert len(stripe_mock.calls) == 1
