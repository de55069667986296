"""OpenAPI description of the error format, added to every operation of the API.

``AutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) documents the answers
every endpoint can give besides its success: 401, 403 and 400 always (every
operation refuses an unknown query parameter; lists a bad or past-the-end ``page``),
404 where an object is looked up, 413 and 415 where a body is read. Operations
that answer more (409, 502, ...) say so with ``extend_schema(responses=...)``;
``errors(...)`` builds those entries.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

DESCRIPTIONS = {
    400: "Invalid input: `errors` names each bad field by its path (`steps[1].input.customer`) "
    "or query parameter (unknown, repeated, or a `page` past the last one), all at once.",
    401: "No credentials, or an invalid or revoked token.",
    403: "The user lacks the model permission, or a read-only token tried to write.",
    404: "No such object.",
    409: "The object's state does not allow this now.",
    413: "The body is over the size limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default).",
    415: "The body is not JSON (the only media type accepted).",
    429: "Too many failed API tokens from this address: retry after Retry-After seconds.",
}


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_blank=True,
        help_text="Path of the bad field, e.g. `steps[1].input.customer`; empty for the whole "
        "body.",
    )
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error format of the API."""

    type = serializers.CharField(
        help_text="validation_error, not_authenticated, authentication_failed, "
        "permission_denied, not_found, conflict, stripe_error, ..."
    )
    message = serializers.CharField(help_text="One line for people.")
    errors = FieldErrorSerializer(
        many=True,
        help_text="One entry per bad field or query parameter (validation errors, all of "
        "them at once); one entry with an empty field when the body as a whole is bad "
        "(parse_error, unsupported_media_type); empty otherwise.",
    )


class StripeErrorDetailSerializer(serializers.Serializer):
    """``StripeError.to_dict()``: Stripe's own fields and whether retrying can help."""

    error = serializers.CharField(help_text="The error class, e.g. CardError, APIConnectionError.")
    message = serializers.CharField()
    http_status = serializers.IntegerField(
        allow_null=True, help_text="Stripe's HTTP status; null for network failures."
    )
    type = serializers.CharField(allow_null=True, help_text="Stripe's error type.")
    code = serializers.CharField(allow_null=True)
    param = serializers.CharField(allow_null=True)
    decline_code = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True, help_text="Stripe's Request-Id.")
    retryable = serializers.BooleanField()
    retry_after = serializers.FloatField(allow_null=True)


class StripeErrorSerializer(ErrorSerializer):
    """The error format; for ``type: stripe_error`` with Stripe's error under ``stripe``."""

    stripe = StripeErrorDetailSerializer(
        required=False, help_text="Present when Stripe (or the network to it) failed."
    )


def errors(*codes: int, serializer=ErrorSerializer, **described: str) -> dict:
    """``extend_schema(responses={...})`` entries for error codes (``described`` by ``_409=``)."""
    found = {}
    for code in codes:
        text = described.get(f"_{code}") or DESCRIPTIONS.get(code, "Error.")
        found[code] = OpenApiResponse(serializer, description=text)
    return found


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error responses every operation can give.

    Request bodies of ``StrictFields`` serializers say ``additionalProperties: false``,
    as the API answers 400 to a field they do not have.
    """

    def _map_serializer(self, serializer, direction, bypass_extensions=False) -> dict:
        # Imported here: konnectify.platform.api.base's decorators load this module as a
        # DRF setting.
        from konnectify.platform.api.base import StrictFields

        mapped = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictFields):
            mapped["additionalProperties"] = False
        return mapped

    def _get_response_bodies(self, direction="response") -> dict:
        bodies = super()._get_response_bodies(direction)
        for code in self._error_codes():
            key = str(code)
            if key not in bodies:
                bodies[key] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]), key
                )
        return bodies

    def _error_codes(self) -> list[int]:
        # 429: any bearer request, after repeated failed tokens; 400: a bad body, query
        # filter or page (also past the last one), or a query parameter the operation does
        # not take. No 406: the API answers JSON whatever Accept says.
        codes = [400, 401, 403, 429]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.extend([413, 415])
        if "{" in self.path:
            codes.append(404)  # an object
        return sorted(codes)


def only_api_paths(endpoints: list, **kwargs) -> list:
    """drf-spectacular preprocessing hook: document ``/api/`` only."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]
