"""One error format for every API response that is not a success.

``{"type": "validation_error", "message": "...", "errors": [{"field": "steps[1].input.customer",
"message": "..."}]}``: the same ``field`` paths the catalog uses for action inputs, so a client
can point at the bad field whatever produced the error. ``errors`` is always there: empty
when no field is to blame (401, 403, 404, 409...), one entry with field ``""`` when the body
as a whole is (a parse error, a media type other than JSON, a body over the size limit).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


class BodyTooLarge(exceptions.APIException):
    """413: the body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (2.5 MB by default).

    Django raises RequestDataTooBig (a SuspiciousOperation) when a parser reads such a
    body; outside the API it answers its own HTML 400.
    """

    status_code = 413
    default_code = "too_large"

    def __init__(self) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(f"The body is over {limit} bytes, the most the API reads.")


TYPES = {
    exceptions.ValidationError: "validation_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "parse_error",
    exceptions.Throttled: "throttled",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    BodyTooLarge: "too_large",
}


def flatten(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested error detail into a list of ``{"field", "message"}``."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys a list's (or ListField's) item errors by index
                field = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                field = prefix
            else:
                field = f"{prefix}.{key}" if prefix else key
            found.extend(flatten(value, field))
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix, "message": str(item)} for item in detail]
        found = []
        for index, item in enumerate(detail):
            found.extend(flatten(item, f"{prefix}[{index}]"))
        return found
    return [{"field": prefix, "message": str(detail)}]


# What a 401 for missing credentials says, wherever it comes from.
AUTHENTICATE = (
    "Send Authorization: Bearer kfy_... with an API token (made in admin under API tokens, "
    "or with manage.py create_api_token), or sign in to admin for a session."
)

# Errors about the body as a whole: their one entry names no field.
WHOLE_BODY = (exceptions.ParseError, exceptions.UnsupportedMediaType, BodyTooLarge)


def error_body(kind: str, message: str, errors: list[dict] | None = None) -> dict:
    """``{"type", "message", "errors": [{"field", "message"}]}`` (``errors`` empty if None)."""
    return {"type": kind, "message": message, "errors": errors or []}


def api_exception_handler(exc, context) -> Response | None:
    """DRF's handler, answering in the one error format (None: not an API error, a 500)."""
    # DRF turns Django's Http404/PermissionDenied into its own; do it first so that the
    # type below is "not_found"/"permission_denied" (get_object() raises Http404).
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):  # raised by Django when the parser reads the body
        exc = BodyTooLarge()
    response = exception_handler(exc, context)
    if response is None:
        return None
    kind = next((name for cls, name in TYPES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
        message = f"Invalid input: {fields}." if fields else errors[0]["message"]
        response.data = error_body(kind, message, errors)
    elif isinstance(exc, exceptions.NotAuthenticated):
        response.data = error_body(kind, f"{exc.detail} {AUTHENTICATE}")
    else:
        message = str(getattr(exc, "detail", exc))
        whole = [{"field": "", "message": message}] if isinstance(exc, WHOLE_BODY) else []
        response.data = error_body(kind, message, whole)
    return response
