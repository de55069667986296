"""Small builders for the JSON Schemas of action inputs.

Every action declares its input as JSON Schema (draft 2020-12) so that forms,
API docs and validation all come from one declaration. These helpers keep the
declarations short and make the shared shapes (metadata, address, expand,
Stripe ids) identical everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Schema = dict[str, Any]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Stripe's documented limits for metadata: 50 keys, keys up to 40 characters,
# values up to 500 characters.
_METADATA_KEY_MAX = 40
_METADATA_VALUE_MAX = 500
_METADATA_KEYS_MAX = 50


def _with(schema: Schema, **extra: Any) -> Schema:
    """Add the keywords that were given (``None`` means "not set")."""
    schema.update({key: value for key, value in extra.items() if value is not None})
    return schema


def string(
    description: str,
    *,
    enum: Iterable[str] | None = None,
    pattern: str | None = None,
    max_length: int | None = None,
    min_length: int | None = None,
    fmt: str | None = None,
) -> Schema:
    """A text field."""
    return _with(
        {"type": "string", "description": description},
        enum=list(enum) if enum is not None else None,
        pattern=pattern,
        maxLength=max_length,
        minLength=min_length,
        format=fmt,
    )


def integer(description: str, *, minimum: int | None = None, maximum: int | None = None) -> Schema:
    """A whole number (amounts are integers in the smallest currency unit)."""
    return _with({"type": "integer", "description": description}, minimum=minimum, maximum=maximum)


def number(
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> Schema:
    """A decimal number (e.g. a coupon's percent_off)."""
    return _with(
        {"type": "number", "description": description},
        minimum=minimum,
        maximum=maximum,
        exclusiveMinimum=exclusive_minimum,
    )


def boolean(description: str) -> Schema:
    """A true/false flag (sent to Stripe as ``true``/``false``)."""
    return {"type": "boolean", "description": description}


def timestamp(description: str) -> Schema:
    """A Unix timestamp in seconds, as Stripe uses everywhere."""
    return integer(f"{description} (Unix timestamp, seconds)", minimum=0)


def array(items: Schema, description: str, *, min_items: int | None = None) -> Schema:
    """A list of values or of objects (sent as ``field[0]...``)."""
    return _with({"type": "array", "description": description, "items": items}, minItems=min_items)


def obj(
    properties: Mapping[str, Schema], description: str, *, required: Iterable[str] = ()
) -> Schema:
    """A nested object; unknown keys are refused so typos surface before Stripe sees them."""
    schema: Schema = {
        "type": "object",
        "description": description,
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required := list(required):
        schema["required"] = required
    return schema


def input_schema(properties: Mapping[str, Schema], *, required: Iterable[str] = ()) -> Schema:
    """The top-level input schema of an action."""
    schema = obj(properties, "Input of the action", required=required)
    return {"$schema": DRAFT, **schema}


def stripe_id(prefixes: str | tuple[str, ...] | None, description: str) -> Schema:
    """A Stripe object id; with prefixes (``cus``), a mapping mistake fails before any call.

    Only ids that Stripe always generates get a prefix check: products, prices
    and coupons may carry ids chosen by the user.
    """
    if prefixes is None:
        return string(description, min_length=1, max_length=255)
    names = (prefixes,) if isinstance(prefixes, str) else prefixes
    return string(description, pattern=f"^({'|'.join(names)})_[A-Za-z0-9]+$", max_length=255)


def metadata(description: str = "Key-value pairs stored on the object") -> Schema:
    """Stripe metadata; on update Stripe merges it, and an empty value removes that key."""
    return {
        "type": "object",
        "description": f"{description}. On update, an empty value removes that key.",
        "propertyNames": {"maxLength": _METADATA_KEY_MAX, "minLength": 1},
        "additionalProperties": {"type": "string", "maxLength": _METADATA_VALUE_MAX},
        "maxProperties": _METADATA_KEYS_MAX,
    }


def address(description: str = "Postal address") -> Schema:
    """Stripe's address object (all parts optional, country as ISO 3166-1 alpha-2)."""
    part = {
        "line1": string("Street address, line 1"),
        "line2": string("Apartment, suite or building"),
        "city": string("City or town"),
        "state": string("State, county, province or region"),
        "postal_code": string("ZIP or postal code"),
        "country": string("Two-letter country code (ISO 3166-1 alpha-2)", pattern="^[A-Za-z]{2}$"),
    }
    return obj(part, description)


def currency(description: str = "Three-letter ISO currency code, e.g. usd") -> Schema:
    """An ISO 4217 currency code."""
    return string(description, pattern="^[A-Za-z]{3}$")


def amount(description: str) -> Schema:
    """An amount in the smallest currency unit (cents for usd, yen for jpy)."""
    return integer(f"{description}, in the smallest currency unit (e.g. 1000 = $10.00)", minimum=0)


def expand() -> Schema:
    """Stripe's ``expand[]``: related objects to return in full instead of their id."""
    return array(
        string("Path of a field to expand, e.g. customer or latest_invoice.payment_intent"),
        "Related objects to return in full instead of by id",
    )


def enum(description: str, *values: str) -> Schema:
    """A text field limited to Stripe's documented values."""
    return string(description, enum=values)


def collection_method() -> Schema:
    """How invoices are paid: charged automatically, or sent for payment by the customer."""
    return enum(
        "charge_automatically charges the default payment method; send_invoice emails the invoice",
        "charge_automatically",
        "send_invoice",
    )


def days_until_due() -> Schema:
    """Payment term for ``send_invoice``."""
    return integer(
        "Days the customer has to pay (only with collection_method send_invoice)", minimum=0
    )
