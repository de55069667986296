"""Realistic examples for the OpenAPI schema, in Stripe's shapes.

DRF's ``JSONField`` carries no type, so documentation tools showed it as
``"string"``; a bare ``CharField`` for an idempotency key got a random word.
``json_object`` gives a field a type and an example; request and response bodies get
whole examples (``OpenApiExample``) built from these, in Stripe's shapes
(https://docs.stripe.com/api).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

CUSTOMER = {
    "id": "cus_NffrFeUfNV2Hib",
    "object": "customer",
    "email": "jenny.rosen@example.com",
    "name": "Jenny Rosen",
    "livemode": False,
    "metadata": {"order_id": "6735"},
}
CUSTOMER_INPUT = {"email": "jenny.rosen@example.com", "name": "Jenny Rosen"}
EVENT = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "object": "event",
    "type": "customer.created",
    "api_version": "2026-04-22.dahlia",
    "created": 1686089970,
    "livemode": False,
    "data": {"object": CUSTOMER},
}
INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "description": "The customer's email."},
        "name": {"type": "string", "maxLength": 256},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
MAPPING = {"id": "{{ trigger.data.object.id }}", "metadata": {"source": "konnectify"}}
RENDERED = {"id": "cus_NffrFeUfNV2Hib", "metadata": {"source": "konnectify"}}
STRIPE_ERROR = {
    "type": "invalid_request_error",
    "code": "resource_missing",
    "message": "No such customer: 'cus_NffrFeUfNV2Hib'",
    "param": "id",
    "http_status": 404,
    "request_id": "req_8Jq2xMqzdHq3Vt",
}
FILTER = {"path": "data.object.status", "op": "equals", "value": "draft"}
IDEMPOTENCY_KEY = "order-6735-create-customer"
STEP_IDEMPOTENCY_KEY = "konnectify-0b8f3c52-6f0e-4d0c-9a55-3f1f9a0e2c11"
REQUEST_ID = "req_8Jq2xMqzdHq3Vt"


def json_object(example: dict[str, Any], field_class=serializers.JSONField, **kwargs):
    """A ``field_class`` field documented as a JSON object, with ``example``.

    A subclass carries the schema: DRF copies declared fields by re-creating them from
    their arguments, which would drop an annotation set on the instance.
    """
    schema = {"type": "object", "additionalProperties": {}, "example": example}
    documented = type(field_class.__name__, (field_class,), {"__module__": __name__})
    return extend_schema_field(schema)(documented)(**kwargs)


def string(example: str, field_class=serializers.CharField, **kwargs):
    """A ``field_class`` (CharField) documented as a string with ``example``."""
    schema: dict[str, Any] = {"type": "string", "example": example}
    if kwargs.get("max_length"):
        schema["maxLength"] = kwargs["max_length"]
    documented = type(field_class.__name__, (field_class,), {"__module__": __name__})
    return extend_schema_field(schema)(documented)(**kwargs)
