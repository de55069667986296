"""Errors raised by the Stripe connector.

``StripeError`` is what every failed Stripe call becomes: it carries Stripe's own
fields plus our verdict on whether retrying can help. ``ActionInputError`` is a
validation failure found before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

# Stripe API keys and webhook secrets, wherever they might hide in a message
# (Stripe masks keys in its own messages, but a proxy or a bug might not).
_SECRET_PATTERN = re.compile(r"\b((?:sk|rk|pk)_(?:test_|live_)?|whsec_)([A-Za-z0-9]{8,})")


def redact_secrets(text: str) -> str:
    """Replace anything that looks like a Stripe key or signing secret by a mask."""
    return _SECRET_PATTERN.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    """Keep the prefix (``sk_live_``) and the last four characters, like Stripe's dashboard."""
    return f"{match.group(1)}...{match.group(2)[-4:]}"


def _one_line(text: str) -> str:
    """Collapse whitespace so that ``str(err)`` is always one log-friendly line."""
    return " ".join(str(text).split())


class StripeError(Exception):
    """A failed Stripe call: an error answer from Stripe, a network problem, or garbage.

    ``retryable`` says whether the same request may succeed later (network errors,
    429, 5xx, 409, ``lock_timeout``), unless Stripe's ``Stripe-Should-Retry``
    header said otherwise. ``retry_after`` is Stripe's ``Retry-After`` in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.message = redact_secrets(_one_line(message)) or "Stripe request failed"
        self.http_status = http_status
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        details = [str(self.http_status)] if self.http_status is not None else []
        details += [part for part in (self.type, self.code) if part]
        if self.param:
            details.append(f"param={self.param}")
        if self.decline_code:
            details.append(f"decline_code={self.decline_code}")
        if self.request_id:
            details.append(f"request {self.request_id}")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, http_status={self.http_status!r}, "
            f"type={self.type!r}, code={self.code!r}, request_id={self.request_id!r}, "
            f"retryable={self.retryable!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields for run logs and the API (the message is already redacted)."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "http_status": self.http_status,
            "type": self.type,
            "code": self.code,
            "param": self.param,
            "decline_code": self.decline_code,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
        }


# Subclasses mirror the official SDKs' names so callers can catch one kind;
# everything else should only need StripeError and its attributes.
class APIConnectionError(StripeError):
    """No usable answer: DNS, connect or read timeout, connection reset."""


class InvalidRequestError(StripeError):
    """400 or 404: the request itself is wrong (bad parameter, unknown id)."""


class AuthenticationError(StripeError):
    """401: the key is wrong, expired or revoked."""


class PermissionDeniedError(StripeError):
    """403: a restricted key lacks the permission for this call."""


class CardError(StripeError):
    """402 card_error: the card was declined; ``decline_code`` says why."""


class IdempotencyError(StripeError):
    """An Idempotency-Key was reused with different parameters."""


class ConflictError(StripeError):
    """409: a concurrent request on the same object; retrying helps."""


class RateLimitError(StripeError):
    """429: too many requests; wait ``retry_after`` seconds or back off."""


class APIError(StripeError):
    """5xx from Stripe, or an answer that is not Stripe's JSON (e.g. a proxy's HTML page)."""


class APIBaseNotAllowed(StripeError, ValueError):
    """The base URL is not an allowed Stripe API origin; nothing was sent.

    Never retryable: only the operator's environment (STRIPE_API_BASE,
    STRIPE_API_ALLOWED_BASES) or the connection's api_base can fix it. Also a
    ValueError, like every other refused client argument.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, type="api_base_not_allowed", retryable=False)


_BY_STATUS: dict[int, type[StripeError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: CardError,
    403: PermissionDeniedError,
    404: InvalidRequestError,
    409: ConflictError,
    429: RateLimitError,
}


def error_class_for(http_status: int | None, error_type: str | None) -> type[StripeError]:
    """Pick the subclass for an error answer, by Stripe's error type first, then status."""
    if error_type == "idempotency_error":
        return IdempotencyError
    if error_type == "card_error":
        return CardError
    if http_status is None:
        return APIConnectionError
    if http_status >= 500:
        return APIError
    return _BY_STATUS.get(http_status, StripeError)


class ActionInputError(ValueError):
    """An action's input failed validation; nothing was sent to Stripe.

    ``errors`` is a list of ``{"field": "items[0].price", "message": "..."}``.
    """

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = [dict(error) for error in errors]
        super().__init__(self._summary())

    def _summary(self) -> str:
        """One line naming every field: ``Invalid input: email: ...; name: ...``."""
        parts = [
            f"{e.get('field') or '(input)'}: {e.get('message', 'invalid')}" for e in self.errors
        ]
        return "Invalid input: " + ("; ".join(parts) if parts else "no details")

    @property
    def fields(self) -> list[str]:
        """The names of the offending fields, in order."""
        return [error.get("field", "") for error in self.errors]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for run logs and the API."""
        return {"error": "ActionInputError", "message": str(self), "errors": self.errors}
