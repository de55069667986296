"""Paging helpers: list auto-paging by ``starting_after`` and search paging by ``next_page``."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from stripe_connector.errors import APIError

from .conftest import API

LIST_URL = f"{API}/v1/invoices"
SEARCH_URL = f"{API}/v1/invoices/search"


def objects(start: int, count: int) -> list[dict]:
    return [{"id": f"in_{n}", "object": "invoice"} for n in range(start, start + count)]


def list_page(start: int, count: int, has_more: bool) -> dict:
    return {
        "object": "list",
        "url": "/v1/invoices",
        "data": objects(start, count),
        "has_more": has_more,
    }


def search_page(start: int, count: int, next_page: str | None) -> dict:
    return {
        "object": "search_result",
        "url": "/v1/invoices/search",
        "data": objects(start, count),
        "has_more": next_page is not None,
        "next_page": next_page,
    }


def sent_queries(mock) -> list[dict]:
    return [dict(parse_qsl(urlsplit(call.request.url).query)) for call in mock.calls]


def test_list_all_follows_starting_after_until_has_more_is_false(stripe_client, stripe_mock):
    stripe_mock.get(LIST_URL, json=list_page(0, 100, True))
    stripe_mock.get(LIST_URL, json=list_page(100, 100, True))
    stripe_mock.get(LIST_URL, json=list_page(200, 7, False))
    result = stripe_client.list_all("/v1/invoices", {"customer": "cus_1"})
    assert [o["id"] for o in result] == [f"in_{n}" for n in range(207)]
    assert sent_queries(stripe_mock) == [
        {"customer": "cus_1", "limit": "100"},
        {"customer": "cus_1", "limit": "100", "starting_after": "in_99"},
        {"customer": "cus_1", "limit": "100", "starting_after": "in_199"},
    ]


def test_list_all_stops_at_the_cap_and_asks_only_for_what_it_needs(stripe_client, stripe_mock):
    stripe_mock.get(LIST_URL, json=list_page(0, 100, True))
    stripe_mock.get(LIST_URL, json=list_page(100, 50, True))
    result = stripe_client.list_all("/v1/invoices", max_objects=150)
    assert len(result) == 150
    assert result[-1]["id"] == "in_149"
    assert sent_queries(stripe_mock) == [
        {"limit": "100"},
        {"limit": "50", "starting_after": "in_99"},
    ]


def test_list_all_never_returns_more_than_the_cap_even_if_stripe_sends_more(
    stripe_client, stripe_mock
):
    stripe_mock.get(LIST_URL, json=list_page(0, 10, True))
    assert len(stripe_client.list_all("/v1/invoices", max_objects=3)) == 3
    assert sent_queries(stripe_mock) == [{"limit": "3"}]


def test_list_all_honours_a_smaller_page_size(stripe_client, stripe_mock):
    stripe_mock.get(LIST_URL, json=list_page(0, 10, True))
    stripe_mock.get(LIST_URL, json=list_page(10, 2, False))
    assert len(stripe_client.list_all("/v1/invoices", {"limit": 10})) == 12
    assert sent_queries(stripe_mock) == [
        {"limit": "10"},
        {"limit": "10", "starting_after": "in_9"},
    ]


def test_list_all_stops_on_an_empty_page_even_if_has_more_says_otherwise(
    stripe_client, stripe_mock
):
    stripe_mock.get(LIST_URL, json=list_page(0, 0, True))
    assert stripe_client.list_all("/v1/invoices") == []
    assert len(stripe_mock.calls) == 1


def test_list_all_refuses_to_page_after_an_object_without_an_id(stripe_client, stripe_mock):
    stripe_mock.get(LIST_URL, json={"object": "list", "data": [{"object": "x"}], "has_more": True})
    with pytest.raises(APIError, match="object without an id; cannot page on"):
        stripe_client.list_all("/v1/invoices")
    assert len(stripe_mock.calls) == 1


def test_list_all_refuses_a_cap_below_one(stripe_client, stripe_mock):
    with pytest.raises(ValueError, match="max_objects must be at least 1"):
        stripe_client.list_all("/v1/invoices", max_objects=0)


def test_list_all_explains_an_answer_without_a_data_list(stripe_client, stripe_mock):
    stripe_mock.get(f"{API}/v1/customers/cus_1", json={"id": "cus_1", "object": "customer"})
    with pytest.raises(APIError, match="has no 'data' list"):
        stripe_client.list_all("/v1/customers/cus_1")


def test_search_all_follows_next_page_until_there_is_none(stripe_client, stripe_mock):
    stripe_mock.get(SEARCH_URL, json=search_page(0, 100, "page_2"))
    stripe_mock.get(SEARCH_URL, json=search_page(100, 4, None))
    found, more = stripe_client.search_all("/v1/invoices/search", "status:'open'")
    assert (len(found), more) == (104, False)
    assert sent_queries(stripe_mock) == [
        {"query": "status:'open'", "limit": "100"},
        {"query": "status:'open'", "limit": "100", "page": "page_2"},
    ]


def test_search_all_stops_at_the_cap_and_says_more_exist(stripe_client, stripe_mock):
    stripe_mock.get(SEARCH_URL, json=search_page(0, 20, "page_2"))
    stripe_mock.get(SEARCH_URL, json=search_page(20, 5, "page_3"))
    found, more = stripe_client.search_all(
        "/v1/invoices/search", "total>1000", limit=20, max_objects=25
    )
    assert ([o["id"] for o in found][-1], len(found), more) == ("in_24", 25, True)
    assert sent_queries(stripe_mock) == [
        {"query": "total>1000", "limit": "20"},
        {"query": "total>1000", "limit": "5", "page": "page_2"},
    ]


def test_search_all_at_the_cap_with_nothing_left_says_no_more(stripe_client, stripe_mock):
    stripe_mock.get(SEARCH_URL, json=search_page(0, 5, None))
    found, more = stripe_client.search_all("/v1/invoices/search", "q", max_objects=5)
    assert (len(found), more) == (5, False)


@pytest.mark.parametrize(("limit", "sent"), [(500, "100"), (0, "1"), (-3, "1"), (42, "42")])
def test_search_all_clamps_the_page_size_to_stripes_range(stripe_client, stripe_mock, limit, sent):
    stripe_mock.get(SEARCH_URL, json=search_page(0, 1, None))
    stripe_client.search_all("/v1/invoices/search", "q", limit=limit)
    assert sent_queries(stripe_mock)[0]["limit"] == sent


def test_search_all_passes_extra_params_like_expand(stripe_client, stripe_mock):
    stripe_mock.get(SEARCH_URL, json=search_page(0, 1, None))
    stripe_client.search_all("/v1/invoices/search", "q", params={"expand": ["data.customer"]})
    assert sent_queries(stripe_mock) == [
        {"expand[0]": "data.customer", "query": "q", "limit": "100"}
    ]
