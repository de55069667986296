"""Stripe webhook signatures: ``Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]``.

``v1`` is the hex HMAC-SHA256, keyed with the endpoint's ``whsec_`` secret, of
``"<t>." + raw body``. We verify the raw bytes as received (re-encoded JSON would
not match), accept when any ``v1`` matches any of the given secrets (during a
secret roll Stripe signs with each active secret), and refuse timestamps outside
the tolerance in either direction, so that a captured request cannot be replayed
later and a forged far-future timestamp buys nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
# Real headers are well under 1 KB; refusing huge ones bounds the work an
# unauthenticated request can cause.
MAX_HEADER_LENGTH = 4096


class SignatureError(Exception):
    """The request is not a genuine, fresh Stripe delivery; ``reason`` says why.

    Reasons never contain a secret, so they are safe to log.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _compute(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` at ``timestamp``."""
    signed = f"{timestamp}.".encode() + bytes(payload)
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """A full ``Stripe-Signature`` header value for ``payload``, as Stripe would send it."""
    if not secret:
        raise ValueError("A signing secret is required.")
    return f"t={int(timestamp)},{SCHEME}={_compute(payload, secret, int(timestamp))}"


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    """Split the header into its timestamp and its ``v1`` signatures, or say what is wrong."""
    if not header or not header.strip():
        raise SignatureError("Missing Stripe-Signature header.")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("Malformed Stripe-Signature header: too long.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError("Malformed Stripe-Signature header: expected key=value pairs.")
        if key == "t":
            timestamps.append(value.strip())
        elif key == SCHEME:
            signatures.append(value.strip())
        # Other schemes (e.g. the test-only v0) are ignored, as Stripe's libraries do.
    return _parse_timestamp(timestamps), _require_signatures(signatures)


def _parse_timestamp(values: list[str]) -> int:
    """Exactly one all-digit ``t=`` value."""
    if not values:
        raise SignatureError("Malformed Stripe-Signature header: no timestamp (t=).")
    if len(values) > 1:
        raise SignatureError("Malformed Stripe-Signature header: more than one timestamp.")
    if not (values[0].isascii() and values[0].isdigit()):
        raise SignatureError("Malformed Stripe-Signature header: the timestamp is not a number.")
    return int(values[0])


def _require_signatures(values: list[str]) -> list[str]:
    """At least one non-empty ``v1=`` value."""
    signatures = [value for value in values if value]
    if not signatures:
        raise SignatureError("Malformed Stripe-Signature header: no v1 signature.")
    return signatures


def _any_match(payload: bytes, secrets: list[str], timestamp: int, signatures: list[str]) -> bool:
    """True when any given signature equals the expected one for any secret (constant time)."""
    for secret in secrets:
        expected = _compute(payload, secret, timestamp).encode()
        for signature in signatures:
            if hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
                return True
    return False


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: list[str],
    tolerance: int,
    now: int | None = None,
) -> None:
    """Return quietly when ``header`` proves ``payload`` came from Stripe recently.

    Raises ``ValueError`` when ``tolerance`` is not positive (a zero must not
    silently disable the age check), ``TypeError`` when the payload is not bytes,
    and ``SignatureError`` with a loggable reason for every other problem.
    """
    if tolerance <= 0:
        raise ValueError("The webhook tolerance must be a positive number of seconds.")
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise TypeError("Verify the raw request body (bytes), never re-encoded JSON.")
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise SignatureError("No webhook signing secret is configured for this endpoint.")
    timestamp, signatures = _parse_header(header)
    if not _any_match(bytes(payload), usable, timestamp, signatures):
        raise SignatureError("No signature matches the payload and the signing secret(s).")
    age = (int(time.time()) if now is None else int(now)) - timestamp
    if age > tolerance:
        raise SignatureError(f"Timestamp is too old ({age} s, tolerance {tolerance} s).")
    if -age > tolerance:
        raise SignatureError(f"Timestamp is in the future ({-age} s, tolerance {tolerance} s).")
