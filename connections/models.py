"""Connection (one Stripe account + key, with its webhook endpoint) and the event inbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from connections.fields import EncryptedTextField
from konnectify.platform.ratelimit import stripe_throttle
from stripe_connector.client import DEFAULT_API_VERSION, StripeClient, allowed_api_origins
from stripe_connector.errors import StripeError
from stripe_connector.origins import api_origin


def default_api_version() -> str:
    """The product's one pinned Stripe API version (a callable default, for migrations)."""
    return DEFAULT_API_VERSION


def allowed_api_bases() -> list[str]:
    """The origins a connection's ``api_base`` may name, sorted (from the environment)."""
    return sorted(allowed_api_origins())


def validate_api_base(value: str) -> None:
    """A connection's ``api_base``: blank, or an origin the environment allows.

    The one rule for admin, the REST API and ``full_clean``: a key must only go to
    a Stripe API origin listed in STRIPE_API_BASE or STRIPE_API_ALLOWED_BASES.
    Raises ValidationError saying which origins are allowed.
    """
    if not value:
        return
    allowed = allowed_api_bases()
    try:
        origin = api_origin(value)
    except ValueError as exc:
        raise ValidationError(
            f"Not a Stripe API origin: it {exc}.", code="invalid_api_base"
        ) from None
    if origin not in allowed:
        raise ValidationError(
            "Not an allowed Stripe API origin; use one of %(allowed)s, or leave it blank "
            "(STRIPE_API_BASE and STRIPE_API_ALLOWED_BASES in the environment set the list).",
            code="api_base_not_allowed",
            params={"allowed": ", ".join(allowed)},
        )


def normalized_api_base(value: str) -> str:
    """``value`` as a bare origin (``https://api.stripe.com``), or "" when blank.

    For comparing two bases; ``value`` must have passed ``validate_api_base``.
    """
    return api_origin(value) if value else ""


def require_key_for_api_base_change(current: str, new: str, key: str | None, key_field: str):
    """Where a key goes may only change together with the key: the user proves they hold it.

    ``current`` and ``new`` are the stored and the requested ``api_base``; ``key``
    the key entered in the same save, if any. Raises ValidationError naming
    ``api_base`` and ``key_field`` (the key's input: ``new_key``, ``secret_key``).
    """
    if key or normalized_api_base(new) == _stored_origin(current):
        return
    message = (
        f"Changing api_base changes where the Stripe key is sent: enter the key again "
        f"({key_field}) in the same save."
    )
    raise ValidationError({"api_base": message, key_field: message}, code="key_required")


def _stored_origin(value: str) -> str:
    """A stored base as an origin; a malformed old value compares as itself (so: changed)."""
    try:
        return normalized_api_base(value)
    except ValueError:
        return value


class ConnectionDisabled(StripeError):
    """The connection is disabled: nothing is sent with its key (type ``connection_disabled``).

    Not retryable: the run stops at once; staff enable the connection, then resume.
    """

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Connection {name!r} is disabled: nothing is sent to Stripe with its key. "
            "Enable it first.",
            type="connection_disabled",
        )


class Connection(models.Model):
    """One Stripe key for one account and mode, and the one webhook endpoint that feeds it."""

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    class KeyKind(models.TextChoices):
        SECRET = "secret", "Secret key"
        RESTRICTED = "restricted", "Restricted key"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INVALID = "invalid", "Invalid"
        DISABLED = "disabled", "Disabled"

    class WebhookMode(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (Konnectify manages the endpoint)"
        MANUAL = "manual", "Manual (endpoint created in Stripe's dashboard)"

    class WebhookStatus(models.TextChoices):
        NONE = "none", "No endpoint"
        ENABLED = "enabled", "Enabled"
        DISABLED = "disabled", "Disabled in Stripe"
        ERROR = "error", "Error"
        MANUAL = "manual", "Manual"

    id = models.UUIDField(
        "ID",
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
        help_text="Unguessable id; part of the webhook URL.",
    )
    name = models.CharField(max_length=100, help_text="A name for staff, unique.")
    secret_key = EncryptedTextField(
        "API key",
        blank=True,
        help_text="Stripe secret (sk_) or restricted (rk_) key, encrypted at rest.",
    )
    key_hint = models.CharField(
        "API key",
        max_length=40,
        blank=True,
        editable=False,
        help_text="The key, masked: sk_live_...abcd.",
    )
    mode = models.CharField(max_length=4, choices=Mode.choices, blank=True, editable=False)
    key_kind = models.CharField(
        "key type", max_length=10, choices=KeyKind.choices, blank=True, editable=False
    )
    account_id = models.CharField("account ID", max_length=255, blank=True, editable=False)
    account_name = models.CharField(max_length=255, blank=True, editable=False)
    api_version = models.CharField(
        "API version",
        max_length=40,
        default=default_api_version,
        help_text="Stripe-Version of every request and of the webhook endpoint's events.",
    )
    api_base = models.CharField(
        "API base",
        max_length=200,
        blank=True,
        validators=[validate_api_base],
        help_text="Stripe API origin (scheme://host[:port]); blank uses STRIPE_API_BASE. Only "
        "origins listed in STRIPE_API_BASE or STRIPE_API_ALLOWED_BASES are accepted.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_message = models.TextField(
        blank=True, help_text="Why the key is invalid, or a warning about its permissions."
    )

    webhook_mode = models.CharField(
        max_length=10, choices=WebhookMode.choices, default=WebhookMode.AUTOMATIC
    )
    webhook_endpoint_id = models.CharField(
        "webhook endpoint ID",
        max_length=255,
        blank=True,
        help_text="Stripe's we_... id of this connection's endpoint.",
    )
    webhook_secret = EncryptedTextField(
        "webhook signing secret",
        blank=True,
        help_text="The endpoint's whsec_ signing secret, encrypted at rest.",
    )
    previous_webhook_secret = EncryptedTextField(
        "previous signing secret",
        blank=True,
        help_text="The replaced signing secret, still accepted until it expires.",
    )
    previous_secret_expires_at = models.DateTimeField(
        "previous signing secret expires", null=True, blank=True
    )
    webhook_enabled_events = models.JSONField(
        "enabled events",
        default=list,
        blank=True,
        help_text="Event types enabled on the endpoint in Stripe: the event types in use.",
    )
    webhook_status = models.CharField(
        max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.NONE
    )
    webhook_error = models.TextField(
        blank=True, help_text="The last endpoint sync failure; empty when the last sync worked."
    )
    webhook_synced_at = models.DateTimeField("webhook synced", null=True, blank=True)
    events_cursor = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Reconciliation lists Stripe events created at or after this time.",
    )

    last_event_at = models.DateTimeField("last event", null=True, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="connection_name_unique"),
        ]
        # Running Stripe actions with a connection's key is a power of its own:
        # an integration may need it without being allowed to edit connections.
        permissions = [("use_connection", "Can run Stripe actions with a connection")]

    def __str__(self) -> str:
        return self.name

    def client(self) -> StripeClient:
        """A Stripe client with this connection's key, API version and base URL.

        Its calls are paced under Stripe's rate limit, shared by every worker:
        Stripe counts per account, so connections to one account share a budget.
        """
        self.require_enabled()
        return StripeClient(
            self.secret_key,
            api_version=self.api_version,
            base_url=self.api_base or None,
            throttle=stripe_throttle(self.account_id or str(self.id), self.mode),
        )

    def require_enabled(self) -> None:
        """Raise ConnectionDisabled when the connection is disabled, as the database says now.

        ``client()`` calls it: every Stripe client of a connection is made there, so
        no path (the engine, Test a step, API actions, the CLI, webhook sync,
        reconciliation) can send the key of a connection disabled after this
        object was loaded. One primary-key read per client.
        """
        fresh = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
        if (fresh or self.status) == self.Status.DISABLED:
            raise ConnectionDisabled(self.name)

    @property
    def webhook_path(self) -> str:
        return reverse("connections:stripe-webhook", kwargs={"connection_id": self.id})

    @property
    def webhook_url(self) -> str:
        """The public URL Stripe posts this connection's events to."""
        return f"{settings.PUBLIC_BASE_URL}{self.webhook_path}"

    def valid_webhook_secrets(self, now=None) -> list[str]:
        """The signing secrets a delivery may be signed with right now (current first)."""
        now = now or timezone.now()
        secrets = [self.webhook_secret] if self.webhook_secret else []
        expires = self.previous_secret_expires_at
        if self.previous_webhook_secret and expires and expires > now:
            secrets.append(self.previous_webhook_secret)
        return secrets

    def replace_webhook_secret(self, new_secret: str, now=None) -> None:
        """Store a new signing secret, keeping the old one valid for the grace period.

        Does not save: the caller saves with the other fields it changes.
        """
        now = now or timezone.now()
        old = self.webhook_secret
        if old and old != new_secret:
            grace = timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
            self.previous_webhook_secret = old
            self.previous_secret_expires_at = now + grace
        self.webhook_secret = new_secret

    @property
    def accepts_events(self) -> bool:
        """False for a disabled connection: its webhook URL answers 404."""
        return self.status != self.Status.DISABLED


# How long an event's id is remembered after Stripe created it, whatever RETENTION_DAYS
# says of its payload: Stripe lists events for 30 days (GET /v1/events, what
# reconciliation and backfill_events read) and retries a delivery for 3 days.
# One day more absorbs clock differences between Stripe and us.
# Source: https://docs.stripe.com/api/events and https://docs.stripe.com/webhooks#retries
EVENT_ID_MEMORY = timedelta(days=31)


class InboxEvent(models.Model):
    """One Stripe event as received, stored once per connection however often it arrives.

    Pruning first clears the payload (``payload_pruned_at``) and keeps the row, whose
    unique (connection, event id) turns any later delivery, reconciliation or backfill
    of the event into a duplicate; the row itself goes ``EVENT_ID_MEMORY`` after the
    event's ``created``.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        DISPATCHED = "dispatched", "Dispatched"
        IGNORED = "ignored", "Ignored"
        MODE_MISMATCH = "mode_mismatch", "Mode mismatch"

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        RECONCILIATION = "reconciliation", "Reconciliation"
        BACKFILL = "backfill", "Backfill"

    connection = models.ForeignKey(
        Connection,
        on_delete=models.CASCADE,
        related_name="inbox_events",
        # No index of its own: the unique (connection, event id) and (connection, type)
        # indexes start with it, and every index is one more write per event received.
        db_index=False,
    )
    stripe_event_id = models.CharField("event ID", max_length=255, help_text="Stripe's evt_... id.")
    type = models.CharField(max_length=255, help_text="Event type, e.g. customer.created.")
    object_id = models.CharField(
        "object ID",
        max_length=255,
        blank=True,
        default="",
        help_text="The id of the object the event is about (data.object.id, e.g. cus_...); "
        "empty when it has none.",
    )
    created = models.DateTimeField(help_text="When Stripe created the event.")
    # Stripe's livemode: true for live mode, false for test mode.
    livemode = models.BooleanField("live mode", choices=[(True, "Live"), (False, "Test")])
    api_version = models.CharField("API version", max_length=40, blank=True)
    payload = models.JSONField(help_text="The event envelope as Stripe sent it.")
    received_at = models.DateTimeField("received", default=timezone.now)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WEBHOOK)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    status_detail = models.TextField(blank=True)
    payload_pruned_at = models.DateTimeField(
        "payload pruned",
        null=True,
        blank=True,
        help_text="When the payload was pruned (RETENTION_DAYS). The row stays, without it, "
        "until Stripe can no longer send the event, so it is never processed twice.",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "stripe_event_id"], name="inbox_event_unique_per_connection"
            ),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="inbox_received_idx"),
            models.Index(fields=["status", "received_at"], name="inbox_status_received_idx"),
            models.Index(fields=["connection", "type"], name="inbox_connection_type_idx"),
            models.Index(fields=["object_id"], name="inbox_object_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type}"


# HTTP request steps' credentials live in their own module; imported here so that the
# app registry (and migrations) see the model.
from connections.credentials import Credential  # noqa: E402, F401
