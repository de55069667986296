"""The Stripe webhook receiver: verify, store once, answer; nothing slow happens here.

A plain Django view, not a DRF one: a machine-to-machine endpoint needs no
authentication (the signature is the authentication), no CSRF, no content
negotiation and no parsers (the raw bytes are what is signed); each of those
was measurable per delivery. It is excluded from ATOMIC_REQUESTS so that the
insert commits, and its dispatch is enqueued, before it answers.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, DataError, transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from connections import receiver_cache
from connections.inbox import ConnectionGone, NotAnEvent, ingest
from connections.models import Connection, InboxEvent
from konnectify.platform import metrics
from stripe_connector.jsonbounds import JSONProblem, loads
from stripe_connector.signature import SignatureError, verify_signature

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Stripe's events are far smaller; bound unauthenticated input.

# Only what verification and the inbox need: the API key is never decrypted here.
_RECEIVER_FIELDS = (
    "id",
    "name",
    "status",
    "mode",
    "webhook_secret",
    "previous_webhook_secret",
    "previous_secret_expires_at",
    "last_event_at",
)


class Rejected(Exception):
    """A delivery refused with ``status``; ``reason`` is logged, and returned unless an
    ``answer`` is given (a reason naming the connection is for the log only: the caller
    has not proved it is Stripe yet); ``outcome`` is how it is counted
    (konnectify_webhook_events_total)."""

    def __init__(
        self, status: int, reason: str, outcome: str = "invalid", answer: str = ""
    ) -> None:
        self.status = status
        self.reason = reason
        self.outcome = outcome
        self.answer = answer
        super().__init__(reason)


@csrf_exempt
@transaction.non_atomic_requests
def stripe_webhook(request, connection_id: UUID) -> HttpResponse:
    """POST /webhooks/stripe/<connection id>/: one connection's Stripe events.

    200 ``{"received": "evt_...", "duplicate": false}`` once stored (``true`` when it
    already was); 400 bad signature, envelope or JSON; 404 unknown or disabled
    connection; 405 any method but POST; 413 body over MAX_BODY_BYTES; 503 when the
    database cannot store it, so that Stripe delivers it again. Every refusal is
    ``{"error": "..."}``.
    """
    if request.method != "POST":
        response = answer({"error": f"Method {request.method} not allowed."}, status=405)
        response["Allow"] = "POST"
        return response
    try:
        return receive(request, connection_id)
    except Rejected as rejected:
        return refuse(
            connection_id, rejected.status, rejected.reason, rejected.outcome, rejected.answer
        )
    except DataError as exc:
        # The database refuses this payload's content: retrying cannot help.
        reason = f"unstorable event ({type(exc).__name__})"
        return refuse(connection_id, 400, reason, "unstorable", "The event cannot be stored.")
    except DatabaseError as exc:
        # Never 200 for an event we did not store: 503 makes Stripe deliver it again.
        reason = f"database unavailable ({type(exc).__name__})"
        return refuse(connection_id, 503, reason, "unavailable", "Temporarily unavailable.")


def receive(request, connection_id: UUID) -> HttpResponse:
    """The checks in the documented order, then the insert."""
    body = read_body(request)
    header = request.headers.get("Stripe-Signature")
    if not header:
        raise Rejected(400, "Missing Stripe-Signature header.", "missing_signature")
    connection = find_connection(connection_id)
    verify(connection, body, header)
    payload = parse_event(body)
    try:
        event, created = ingest(connection, payload)  # checks the envelope first
    except NotAnEvent as exc:
        raise Rejected(400, str(exc)) from None
    except ConnectionGone:
        # Deleted by another process while this one still remembered it.
        receiver_cache.forget(connection_id)
        raise Rejected(404, "Unknown connection.", "unknown_connection") from None
    metrics.webhook_event(event.type, outcome(event, created))
    return answer({"received": event.stripe_event_id, "duplicate": not created})


def answer(data: dict, status: int = 200) -> HttpResponse:
    """``data`` as compact JSON (UTF-8) with ``status`` and its Content-Length (set here:
    CommonMiddleware, which would set it, is skipped for deliveries)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Content-Length"] = str(len(body))
    return response


def outcome(event: InboxEvent, created: bool) -> str:
    """How a stored delivery is counted: accepted, duplicate or mode_mismatch."""
    if not created:
        return "duplicate"
    return "mode_mismatch" if event.status == InboxEvent.Status.MODE_MISMATCH else "accepted"


def refuse(
    connection_id: UUID, status: int, reason: str, outcome: str, answer_text: str = ""
) -> HttpResponse:
    """Log why a delivery was refused (never its body), count it as ``outcome`` and answer
    ``status`` with ``{"error": answer_text or reason}``."""
    metrics.webhook_event("unknown", outcome)
    logger.warning(
        "Webhook rejected: connection=%s status=%s reason=%s", connection_id, status, reason
    )
    return answer({"error": answer_text or reason}, status=status)


def read_body(request) -> bytes:
    """The raw body, refusing anything over MAX_BODY_BYTES before reading it all.

    A body sent without Content-Length (``Transfer-Encoding: chunked``, which a proxy
    may forward as it is) is read from the server's stream when the server says the
    stream ends with the body (``wsgi.input_terminated``, as gunicorn does): Django
    reads such a body as empty, and the delivery would be refused as unsigned.
    """
    length = request.META.get("CONTENT_LENGTH")
    try:
        declared = int(length or 0)
    except ValueError:
        raise Rejected(400, "Invalid Content-Length.") from None
    if declared > MAX_BODY_BYTES:
        raise Rejected(413, f"Body over {MAX_BODY_BYTES} bytes.", "too_large")
    # Read one byte past the limit so a body without a usable length is bounded too.
    if not length and request.META.get("wsgi.input_terminated"):
        body = request.META["wsgi.input"].read(MAX_BODY_BYTES + 1)
    else:
        body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"Body over {MAX_BODY_BYTES} bytes.", "too_large")
    return body


def find_connection(connection_id: UUID) -> Connection:
    """The connection for this URL; 404 when unknown or disabled (the same answer for both)."""
    try:
        connection = receiver_cache.get(connection_id, load_connection)
    except Connection.DoesNotExist:
        raise Rejected(404, "Unknown connection.", "unknown_connection") from None
    if not connection.accepts_events:
        raise Rejected(
            404,
            f"Connection {connection.name!r} is disabled.",
            "unknown_connection",
            answer="Unknown connection.",  # the same answer as for an unknown one
        )
    return connection


def load_connection(connection_id: UUID) -> Connection:
    return Connection.objects.only(*_RECEIVER_FIELDS).get(pk=connection_id)


def verify(connection: Connection, body: bytes, header: str) -> None:
    """400 unless the header carries a fresh, valid v1 signature for a current secret."""
    try:
        verify_signature(
            body,
            header,
            connection.valid_webhook_secrets(),
            settings.WEBHOOK_TOLERANCE_SECONDS,
        )
    except SignatureError as exc:
        raise Rejected(
            400, f"Connection {connection.name!r}: {exc.reason}", "bad_signature", exc.reason
        ) from None


def parse_event(body: bytes) -> Any:
    """The body as JSON, or 400 when it is not JSON.

    Read by ``jsonbounds.loads``, the product's one bound on JSON: nesting deeper
    than MAX_JSON_DEPTH (also past what the JSON parser itself can take), NaN,
    Infinity and numbers that overflow to infinity (``1e400``; no database column
    takes them) are 400s naming the field. Whether it is a Stripe event is
    ``ingest``'s check (``check_envelope``, one place for every source), answered
    400 too.
    """
    try:
        return loads(body)
    except JSONProblem as exc:
        where = f"The body's {exc.field}" if exc.field else "The body"
        raise Rejected(400, f"{where} {exc.reason}.") from None
