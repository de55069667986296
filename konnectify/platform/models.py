"""API tokens for other systems; everything else lives in the apps."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "kfy_"


def hash_token(raw: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is no
    # dictionary to guess from, and lookups stay one indexed query.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token acting as ``user``; shown once at creation, stored only hashed."""

    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'billing sync'.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="The token acts as this user: the user's permissions decide what it may do.",
    )
    hint = models.CharField(
        max_length=20, editable=False, help_text="The token's first characters."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="A read-only token may only read, whatever the user may do."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, *, name: str, user, read_only: bool = False) -> tuple[ApiToken, str]:
        """Create a token; returns it with the raw value, which is never available again."""
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name, user=user, read_only=read_only, hint=raw[:10], token_hash=hash_token(raw)
        )
        return token, raw

    @classmethod
    def find(cls, raw: str) -> ApiToken | None:
        return (
            cls.objects.usable().select_related("user").filter(token_hash=hash_token(raw)).first()
        )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once a minute, so a busy client does not write on every call."""
        now = timezone.now()
        if self.last_used_at and (now - self.last_used_at).total_seconds() < 60:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class RateLimitSlot(models.Model):
    """The next free moment of one rate budget, shared by every process through the database.

    ``konnectify.platform.ratelimit.reserve`` books slots: it moves ``next_free`` on by
    ``1 / rate`` under a row lock and makes the caller wait for its slot.
    """

    key = models.CharField(
        max_length=200,
        help_text="The budget, e.g. 'stripe:test:<connection>' or '...:search'.",
    )
    next_free = models.FloatField(
        default=0.0,
        help_text="Seconds since the epoch (database clock) from which the next call may start.",
    )

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["key"], name="ratelimitslot_unique_key")]

    def __str__(self) -> str:
        return self.key
