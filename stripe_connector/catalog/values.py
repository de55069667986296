"""How a rendered value becomes what Stripe takes: the one place that decides it.

Form encoding has no types: every value reaches Stripe as text, and Stripe reads
it by the parameter's type (https://docs.stripe.com/api/metadata,
https://docs.stripe.com/api/expanding_objects). So, driven by the action's
input schema and never by an action's name:

- a text field takes a number or a boolean as its text (1099 -> "1099",
  true -> "true"), which is what Stripe stores;
- an integer field takes whole numbers and their text alike (1099, 1099.0,
  "1099" and "1099.0" -> 1099); a fractional amount (10.5, "10.5") stays an
  error, and so does any number past Stripe's 64-bit integers (MAX_INTEGER:
  amounts are at most 8 digits in most currencies, so far less in practice);
- a boolean field takes the text "true" or "false";
- a field marked ``x-stripe-id`` takes an expanded object's ``id``;
- a field marked ``x-stripe-clearable`` takes ``""``, which unsets it
  (``metadata=``), and no other check applies to that ``""``.

``prepare`` converts, ``Validator`` checks (JSON Schema 2020-12 plus the
``x-stripe-*`` keywords of schema.py), ``unsendable`` finds what the form
encoding cannot carry (keys with brackets, NaN) in free-form parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from stripe_connector.catalog.schema import CLEARABLE, EXCLUSIVE, REQUIRED_WHEN, STRIPE_ID
from stripe_connector.encoding import render_scalar

_WHOLE = re.compile(r"^-?[0-9]+(\.0+)?$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
# Stripe's integer parameters are 64-bit (https://docs.stripe.com/api/payment_intents/create
# amount: "up to eight digits" in most currencies); a number field is held to the same.
MAX_INTEGER = 2**63 - 1
# Text longer than this is past MAX_INTEGER whatever it says; int() is never asked to
# read it (past 4,300 digits it raises ValueError).
_MAX_DIGITS = len(str(MAX_INTEGER)) + 1
_BOOLEANS = {"true": True, "false": False}
# What a key sent in the form encoding may not hold (U+0000-U+001F and U+007F).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def prepare(schema: Any, value: Any) -> Any:
    """``value`` converted as the field's schema says (see the module's list); never raises.

    What cannot be converted is returned as is, for the validator to name.
    """
    if not isinstance(schema, Mapping):
        return value
    if value == "" and schema.get(CLEARABLE):
        return value
    if schema.get(STRIPE_ID) and isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"]
    kind = schema.get("type")
    if kind == "object" and isinstance(value, Mapping):
        return {key: prepare(property_schema(schema, key), item) for key, item in value.items()}
    if kind == "array" and isinstance(value, list):
        return [prepare(schema.get("items"), item) for item in value]
    converter = _SCALARS.get(kind)
    return converter(value) if converter else value


def property_schema(schema: Mapping[str, Any], key: str) -> Any:
    """The schema of ``key`` in an object schema (its property, else additionalProperties)."""
    properties = schema.get("properties", {})
    if key in properties:
        return properties[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def field_schema(schema: Any, parts: Sequence[str | int]) -> Any:
    """The schema of the field at ``parts`` (``["items", 0, "price"]``), or None."""
    for part in parts:
        if not isinstance(schema, Mapping):
            return None
        schema = schema.get("items") if isinstance(part, int) else property_schema(schema, part)
    return schema


def _as_text(value: Any) -> Any:
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return render_scalar("", value)
    return value


def _as_integer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.match(value) and _short(value):
        return int(value.split(".")[0])
    return value


def _as_number(value: Any) -> Any:
    if isinstance(value, str) and _DECIMAL.match(value) and _short(value):
        return float(value) if "." in value else int(value)
    return value


def _short(text: str) -> bool:
    """Whether the whole part of a number's text is short enough to read."""
    return len(text.split(".")[0].lstrip("-")) <= _MAX_DIGITS


def _as_boolean(value: Any) -> Any:
    return _BOOLEANS.get(value, value) if isinstance(value, str) else value


_SCALARS = {
    "string": _as_text,
    "integer": _as_integer,
    "number": _as_number,
    "boolean": _as_boolean,
}


# -- checking -------------------------------------------------------------------


def _unless_cleared(check):
    """A keyword check that ignores ``""`` on a clearable field (it unsets the field)."""

    def run(validator, value, instance, schema):
        if instance == "" and isinstance(schema, Mapping) and schema.get(CLEARABLE):
            return
        yield from check(validator, value, instance, schema) or ()

    return run


def _exclusive(validator, groups, instance, schema) -> Iterator[ValidationError]:
    """Stripe's "You may only specify one of these parameters: a, b."; names the later one."""
    if not validator.is_type(instance, "object"):
        return
    for group in groups:
        given = [name for name in group if name in instance]
        if len(given) > 1:
            message = f"give only one of: {', '.join(group)}"
            yield ValidationError(message, path=[given[1]])


def _required_when(validator, conditions, instance, schema) -> Iterator[ValidationError]:
    """A field Stripe requires when another field has a given value."""
    if not validator.is_type(instance, "object"):
        return
    for name, when in conditions.items():
        if name not in instance and all(instance.get(k) == v for k, v in when.items()):
            because = " and ".join(f"{key} is {value}" for key, value in when.items())
            yield ValidationError(f"is required when {because}", path=[name])


def _bounded_type(validator, types, instance, schema) -> Iterator[ValidationError]:
    """JSON Schema's ``type``, plus Stripe's range for integers and numbers.

    A number text too long to convert (``prepare`` leaves it as text) is out of range
    too, named as such rather than as "not a number".
    """
    kinds = {types} if isinstance(types, str) else set(types)
    numeric = kinds & {"integer", "number"}
    if numeric and "string" not in kinds and _long_number_text(instance):
        yield _out_of_range()
        return
    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema) or ()
    number = isinstance(instance, int | float) and not isinstance(instance, bool)
    if numeric and number and math.isfinite(instance) and abs(instance) > MAX_INTEGER:
        yield _out_of_range()


def _long_number_text(value: Any) -> bool:
    return isinstance(value, str) and bool(_DECIMAL.match(value)) and not _short(value)


def fractional_text(value: Any) -> bool:
    """Whether ``value`` is the text of a number with a fraction (``"10.5"``)."""
    return isinstance(value, str) and bool(_DECIMAL.match(value)) and not _WHOLE.match(value)


def _out_of_range() -> ValidationError:
    # validator "maximum": the message is shown as is (base._message words "type" errors).
    return ValidationError(f"must be between -{MAX_INTEGER} and {MAX_INTEGER}", validator="maximum")


Validator = extend(
    Draft202012Validator,
    {
        **{name: _unless_cleared(check) for name, check in Draft202012Validator.VALIDATORS.items()},
        "type": _unless_cleared(_bounded_type),
        EXCLUSIVE: _exclusive,
        REQUIRED_WHEN: _required_when,
    },
)


def unsendable(value: Any, parts: tuple[str | int, ...] = ()) -> Iterator[tuple[list, str]]:
    """``(path parts, message)`` for what Stripe's form encoding cannot carry.

    Keys must be non-empty text without ``[``/``]`` (a bracket would change the
    nesting: ``metadata[order[1]]``) or control characters (U+0000-U+001F,
    U+007F: no Stripe key holds one, and a form field name is not the place for
    a line break); text must not hold U+0000 (Stripe's parameters are text,
    https://docs.stripe.com/api/metadata, and no database stores U+0000 in
    JSON); scalars must be text, numbers (finite), booleans or null.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key or "[" in key or "]" in key:
                yield list(parts), f"key {key!r} must be non-empty and without [ or ]"
            elif CONTROL_CHARACTERS.search(key):
                yield list(parts), f"key {key!r} must not contain control characters"
            else:
                yield from unsendable(item, (*parts, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from unsendable(item, (*parts, index))
    elif isinstance(value, str) and "\x00" in value:
        yield list(parts), "must not contain U+0000 (a NUL character)"
    elif value is not None:
        try:
            render_scalar("", value)
        except (TypeError, ValueError):
            yield list(parts), f"cannot be sent to Stripe: {value!r}"
