"""Stripe's bracketed form encoding, by example and by property."""

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stripe_connector.encoding import encode_params

# --- a small decoder, written independently of the encoder -------------------

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def split_key(key: str) -> list[str]:
    """``items[0][price]`` -> ``["items", "0", "price"]``."""
    head, _, rest = key.partition("[")
    parts = [head, *_KEY_PART.findall("[" + rest if rest else "")]
    assert "".join(f"[{p}]" for p in parts[1:]) == key[len(head) :], key
    return parts


def decode(pairs: list[tuple[str, str]]) -> dict:
    """Rebuild nested dicts and lists (all-digit keys are list indexes, dense from 0)."""
    root: dict = {}
    for key, value in pairs:
        parts = split_key(key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            assert isinstance(node, dict), key
        assert parts[-1] not in node, f"duplicate key {key}"
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        indexes = sorted(int(k) for k in node)
        assert indexes == list(range(len(indexes))), "indexes must be dense from 0"
        return [_lists(node[str(i)]) for i in indexes]
    return {k: _lists(v) for k, v in node.items()}


def expected_after_round_trip(value):
    """The original minus Nones and whatever encodes to nothing (empty lists and dicts),
    with scalars as Stripe receives them (text). None means "sends nothing"."""
    if isinstance(value, dict):
        kept = {k: expected_after_round_trip(v) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not None}
        return kept or None
    if isinstance(value, list):
        kept = [expected_after_round_trip(v) for v in value]
        return [v for v in kept if v is not None] or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- examples ----------------------------------------------------------------


def test_it_encodes_flat_scalars_plainly():
    assert encode_params({"email": "a@b.co", "amount": 1999, "livemode": False}) == [
        ("email", "a@b.co"),
        ("amount", "1999"),
        ("livemode", "false"),
    ]


def test_it_nests_dicts_with_brackets():
    assert encode_params({"metadata": {"plan": "pro", "seats": 3}}) == [
        ("metadata[plan]", "pro"),
        ("metadata[seats]", "3"),
    ]


def test_it_indexes_lists_of_scalars_like_the_official_sdks():
    assert encode_params({"expand": ["customer", "latest_invoice.payment_intent"]}) == [
        ("expand[0]", "customer"),
        ("expand[1]", "latest_invoice.payment_intent"),
    ]


def test_it_indexes_lists_of_dicts():
    params = {"items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}]}
    assert encode_params(params) == [
        ("items[0][price]", "price_1"),
        ("items[0][quantity]", "2"),
        ("items[1][price]", "price_2"),
    ]


def test_it_encodes_deep_nesting():
    params = {"items": [{"price_data": {"recurring": {"interval": "month"}}, "tax_rates": ["t"]}]}
    assert encode_params(params) == [
        ("items[0][price_data][recurring][interval]", "month"),
        ("items[0][tax_rates][0]", "t"),
    ]


def test_it_renders_booleans_as_true_and_false():
    assert encode_params({"a": True, "b": False, "m": {"c": True}}) == [
        ("a", "true"),
        ("b", "false"),
        ("m[c]", "true"),
    ]


def test_it_leaves_out_none_everywhere():
    params = {"a": None, "m": {"x": None, "y": "1"}, "l": [None, "z"]}
    assert encode_params(params) == [("m[y]", "1"), ("l[0]", "z")]


def test_it_keeps_list_indexes_dense_when_items_send_nothing():
    params = {"items": [{}, {"price": None}, {"price": "price_1"}, None, {"price": "price_2"}]}
    assert encode_params(params) == [("items[0][price]", "price_1"), ("items[1][price]", "price_2")]


def test_it_keeps_empty_strings_because_they_unset_fields():
    assert encode_params({"description": "", "metadata": {"old": ""}}) == [
        ("description", ""),
        ("metadata[old]", ""),
    ]


def test_it_sends_nothing_for_empty_lists_and_dicts():
    assert encode_params({"expand": [], "metadata": {}, "name": "x"}) == [("name", "x")]
    assert encode_params({}) == []
    assert encode_params(None) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-5, "-5"),
        (10**20, "100000000000000000000"),
        (Decimal("12.50"), "12.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("-0.0"), "0"),
        (1.5, "1.5"),
        (1e-05, "0.00001"),
        (1e16, "10000000000000000"),
        (0.1, "0.1"),
    ],
)
def test_it_renders_numbers_without_exponents(value, text):
    assert encode_params({"n": value}) == [("n", text)]


def test_it_renders_aware_datetimes_as_unix_seconds():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert encode_params({"created": {"gte": when}}) == [("created[gte]", "1767323045")]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n": float("nan")}, ValueError, "'n' must be a finite number"),
        ({"n": Decimal("Infinity")}, ValueError, "'n' must be a finite number"),
        ({"when": dt.datetime(2026, 1, 1)}, ValueError, "'when' is a naive datetime"),
        ({"metadata": {"a[b]": "x"}}, ValueError, "'metadata[a[b]]' must be non-empty"),
        ({"metadata": {"": "x"}}, ValueError, "must be non-empty"),
        ({"blob": b"bytes"}, TypeError, "'blob' has a type Stripe cannot take: bytes"),
        ({"tags": {"a", "b"}}, TypeError, "'tags' has a type Stripe cannot take: set"),
        ({"m": {(1, 2): "x"}}, TypeError, "keys must be text"),
    ],
)
def test_it_refuses_what_stripe_cannot_take_and_names_the_parameter(params, error, message):
    with pytest.raises(error, match=re.escape(message)):
        encode_params(params)


def test_it_survives_url_encoding_of_unicode_and_reserved_characters():
    params = {"name": "Zoë & Co = 100% [ok]", "metadata": {"note ✓": "a+b c"}}
    pairs = encode_params(params)
    assert parse_qsl(urlencode(pairs), keep_blank_values=True) == pairs
    assert decode(pairs) == params


# --- properties --------------------------------------------------------------

# Dict keys that cannot be mistaken for list indexes and contain no brackets.
keys = st.text(
    alphabet=st.characters(blacklist_characters="[]", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda k: not k.isdigit())
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=25,
)
params_strategy = st.dictionaries(keys, values, max_size=6)


@given(params_strategy)
def test_decoding_the_pairs_gives_back_the_original_minus_nones(params):
    pairs = encode_params(params)
    expected = expected_after_round_trip(params) or {}
    assert decode(pairs) == expected


@given(params_strategy)
def test_every_pair_is_text_and_every_key_is_unique(params):
    pairs = encode_params(params)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
    assert len({k for k, _ in pairs}) == len(pairs)


@given(params_strategy)
def test_the_pairs_survive_a_real_urlencode(params):
    pairs = encode_params(params)
    assert parse_qsl(urlencode(pairs), keep_blank_values=True) == pairs


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_render_plainly_and_keep_their_value(value):
    [(_, text)] = encode_params({"unit_amount_decimal": value})
    assert "e" not in text.lower()
    assert Decimal(text) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_render_plainly_and_keep_their_value(value):
    [(_, text)] = encode_params({"percent_off": value})
    assert "e" not in text.lower()
    assert float(text) == value
