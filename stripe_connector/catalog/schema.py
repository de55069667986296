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

# Our own keywords (JSON Schema ignores unknown "x-" keywords; values.py reads them):
# STRIPE_ID: the field takes an id, or the expanded object with that id ("an id or
# the object", as Stripe's expandable fields are); CLEARABLE: "" unsets the field
# (``metadata=``); EXCLUSIVE: groups of fields Stripe takes only one of ("You may only
# specify one of these parameters"); REQUIRED_WHEN: {field: {other: value}}, a field
# Stripe requires when another has a given value.
STRIPE_ID = "x-stripe-id"
CLEARABLE = "x-stripe-clearable"
EXCLUSIVE = "x-stripe-exclusive"
REQUIRED_WHEN = "x-stripe-required-when"

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
    properties: Mapping[str, Schema],
    description: str,
    *,
    required: Iterable[str] = (),
    exclusive: Iterable[Iterable[str]] = (),
    companions: Mapping[str, Iterable[str]] | None = None,
    required_when: Mapping[str, Mapping[str, Any]] | None = None,
) -> Schema:
    """A nested object; unknown keys are refused so typos surface before Stripe sees them.

    ``exclusive``: groups of fields Stripe takes only one of; ``companions``: fields
    that need others (``{"amount_off": ["currency"]}``, JSON Schema's
    ``dependentRequired``); ``required_when``: ``{"meter": {"usage_type": "metered"}}``.
    """
    schema: Schema = {
        "type": "object",
        "description": description,
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required := list(required):
        schema["required"] = required
    if groups := [list(group) for group in exclusive]:
        schema[EXCLUSIVE] = groups
    if companions:
        schema["dependentRequired"] = {name: list(other) for name, other in companions.items()}
    if required_when:
        schema[REQUIRED_WHEN] = {name: dict(when) for name, when in required_when.items()}
    return schema


def input_schema(
    properties: Mapping[str, Schema], *, required: Iterable[str] = (), **rules: Any
) -> Schema:
    """The top-level input schema of an action (``rules``: obj's exclusive, companions, ...)."""
    schema = obj(properties, "Input of the action", required=required, **rules)
    return {"$schema": DRAFT, **schema}


def expandable(schema: Schema) -> Schema:
    """Mark a field that takes an id: an expanded object given there is sent as its ``id``."""
    return {**schema, STRIPE_ID: True}


def clearable(schema: Schema) -> Schema:
    """Mark a field Stripe lets you unset with an empty value (``metadata=``, ``address=``).

    Whether a field can be unset is in its entry of Stripe's API reference
    (https://docs.stripe.com/api), shown there as "pass an empty string".
    """
    return {**schema, CLEARABLE: True}


def clearing(fields: Mapping[str, Schema], *names: str) -> dict[str, Schema]:
    """``fields`` with ``names`` marked clearable (the update action of shared fields)."""
    return {name: clearable(spec) if name in names else spec for name, spec in fields.items()}


def stripe_id(prefixes: str | tuple[str, ...] | None, description: str) -> Schema:
    """A Stripe object id; with prefixes (``cus``), a mapping mistake fails before any call.

    Only ids that Stripe always generates get a prefix check: products, prices
    and coupons may carry ids chosen by the user.
    """
    if prefixes is None:
        return expandable(string(description, min_length=1, max_length=255))
    names = (prefixes,) if isinstance(prefixes, str) else prefixes
    pattern = f"^({'|'.join(names)})_[A-Za-z0-9]+$"
    return expandable(string(description, pattern=pattern, max_length=255))


def metadata(description: str = "Key-value pairs stored on the object") -> Schema:
    """Stripe metadata; on update Stripe merges it, and an empty value removes that key."""
    return {
        "type": "object",
        "description": f"{description}. On update, an empty value removes that key.",
        # Brackets in a key would change its nesting in the form body (metadata[a[1]]);
        # control characters (U+0000-U+001F, U+007F) have no place in a key.
        "propertyNames": {
            "maxLength": _METADATA_KEY_MAX,
            "minLength": 1,
            "pattern": r"^[^\[\]\x00-\x1f\x7f]+$",
        },
        # U+0000 is refused in any text (values.unsendable).
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
