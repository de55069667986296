"""Stripe's form encoding of nested parameters.

Stripe takes ``application/x-www-form-urlencoded`` bodies (and query strings)
with brackets for nesting::

    {"metadata": {"plan": "pro"}}          -> metadata[plan]=pro
    {"items": [{"price": "price_1"}]}      -> items[0][price]=price_1
    {"expand": ["customer"]}               -> expand[0]=customer
    {"cancel_at_period_end": True}         -> cancel_at_period_end=true
    {"description": ""}                    -> description=      (unsets the field)
    {"coupon": None}                       -> (left out)

Every list is encoded with explicit indexes (``expand[0]=customer``), also lists
of scalars, although Stripe accepts ``expand[]=customer`` too (the form Stripe's
docs show). Why indexes: it is what Stripe's official SDKs send ("Always
use indexed format for arrays" in stripe-python), so our requests look like
every other client's in Stripe's request logs; and one rule covers lists of
scalars, of dicts and of lists, where ``[]`` is ambiguous for anything but a
flat list of scalars.

None, empty lists and empty dicts send nothing, like the SDKs (list items that send
nothing are skipped and the indexes stay dense); to unset a list or a whole
hash in Stripe, pass ``""`` for it (``default_tax_rates=""``, ``metadata=""``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Flatten ``params`` into ordered ``(key, value)`` string pairs in Stripe's format.

    Raises ``TypeError`` for a value Stripe cannot take (e.g. bytes, sets, objects)
    and ``ValueError`` for NaN/infinity, naive datetimes, or keys with brackets;
    the message names the offending parameter.
    """
    if not params:
        return []
    if not isinstance(params, Mapping):
        raise TypeError("Stripe parameters must be a dict.")
    return list(_encode_mapping("", params))


def _encode_value(key: str, value: Any) -> Iterator[tuple[str, str]]:
    """Yield the pairs for one parameter, recursing into dicts and lists."""
    if value is None:
        return
    if isinstance(value, Mapping):
        yield from _encode_mapping(key, value)
    elif isinstance(value, list | tuple):
        yield from _encode_list(key, value)
    else:
        yield key, render_scalar(key, value)


def _encode_list(key: str, items: list[Any] | tuple[Any, ...]) -> Iterator[tuple[str, str]]:
    """Yield a list's pairs with dense indexes: an item that sends nothing (None, {})
    takes no index, because Stripe would misread a gap such as ``items[1]`` without ``items[0]``."""
    index = 0
    for item in items:
        pairs = list(_encode_value(f"{key}[{index}]", item))
        if pairs:
            index += 1
            yield from pairs


def _encode_mapping(prefix: str, mapping: Mapping[Any, Any]) -> Iterator[tuple[str, str]]:
    """Yield the pairs of a dict, each key nested under ``prefix`` when there is one."""
    for raw_key, value in mapping.items():
        name = _key_name(prefix, raw_key)
        yield from _encode_value(f"{prefix}[{name}]" if prefix else name, value)


def _key_name(prefix: str, key: Any) -> str:
    """A dict key as text; brackets inside a key would silently change its nesting."""
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise TypeError(f"Parameter keys must be text: {key!r} under {prefix or 'the top level'}.")
    name = str(key)
    if not name or "[" in name or "]" in name:
        where = f"{prefix}[{name}]" if prefix else name
        raise ValueError(f"Parameter key {where!r} must be non-empty and without brackets.")
    return name


def render_scalar(key: str, value: Any) -> str:
    """One scalar as Stripe expects it: ``true``/``false``, plain numbers, text as is."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return _render_number(key, value)
    if isinstance(value, dt.datetime):
        return _render_datetime(key, value)
    raise TypeError(f"Parameter {key!r} has a type Stripe cannot take: {type(value).__name__}.")


def _render_number(key: str, value: float | Decimal) -> str:
    """Plain decimal notation (``0.00001``, not ``1e-05``), which Stripe's decimals require."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Parameter {key!r} must be a finite number.")
        value = Decimal(repr(value))  # repr is the shortest text that round-trips the float
    if not value.is_finite():
        raise ValueError(f"Parameter {key!r} must be a finite number.")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _render_datetime(key: str, value: dt.datetime) -> str:
    """Unix seconds, Stripe's timestamp format; a naive datetime has no defined instant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"Parameter {key!r} is a naive datetime; give it a timezone.")
    return str(int(value.timestamp()))
