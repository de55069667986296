"""Credential: how HTTP request steps authenticate with systems other than Stripe.

Stored once, chosen by name in a step's ``credential`` field. The secret (and
the optional signing secret) is encrypted at rest like a connection's Stripe key
(``connections.fields.EncryptedTextField``) and never shown again after saving:
admin and the API show ``secret_hint`` only. The secret is added to a request
at send time (``connections.outbound.HttpClient``), so it is in no step's
recorded input, output or error.
"""

from __future__ import annotations

import base64
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from connections.fields import EncryptedTextField

NAME_PATTERN = r"^[A-Za-z0-9_.-]+\Z"
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z"
# Headers an API key must not replace: the request's own framing and routing.
RESERVED_HEADER_NAMES = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-type", "cookie"}
)
SIGNATURE_HEADER = "Konnectify-Signature"


def secret_hint(secret: str) -> str:
    """What admin and the API show of a secret: its last 4 characters when it is long."""
    if not secret:
        return ""
    return f"••••{secret[-4:]}" if len(secret) >= 16 else "••••"


def _no_line_breaks(value: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValidationError("must not contain line breaks or NUL characters.")


class Credential(models.Model):
    """A bearer token, a basic auth pair or an API key header, plus an optional signing secret."""

    class Kind(models.TextChoices):
        BEARER = "bearer", "Bearer token"
        BASIC = "basic", "Basic auth"
        API_KEY = "api_key", "API key header"

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(NAME_PATTERN, "Letters, digits, '_', '.' and '-' only.")],
        help_text="How steps choose it (their credential field), e.g. crm or slack-alerts.",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BEARER)
    username = models.CharField(
        max_length=200,
        blank=True,
        validators=[_no_line_breaks],
        help_text="Basic auth only: the user name (not secret).",
    )
    header_name = models.CharField(
        max_length=100,
        blank=True,
        validators=[RegexValidator(HEADER_NAME_PATTERN, "Not a valid HTTP header name.")],
        help_text="API key header only: the header that carries the key, e.g. X-Api-Key.",
    )
    secret = EncryptedTextField(
        validators=[_no_line_breaks],
        help_text="The token, password or API key; stored encrypted and never shown again.",
    )
    secret_hint = models.CharField(max_length=20, blank=True, editable=False)
    signing_secret = EncryptedTextField(
        blank=True,
        validators=[_no_line_breaks],
        help_text="Optional: requests are signed with it in a Konnectify-Signature header "
        "(Stripe's webhook scheme: t=(unix time),v1=(hex HMAC-SHA256 of 't.body')).",
    )
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    ENCRYPTED: ClassVar[tuple[str, ...]] = ("secret", "signing_secret")

    class Meta:
        app_label = "connections"
        ordering = ["name"]
        # Sending a request with a credential spends its secret: a right of its own,
        # as using a connection is (connections.permissions).
        permissions = [("use_credential", "Can send HTTP requests with a credential")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.secret_hint = secret_hint(self.secret or "")
        if kwargs.get("update_fields") and "secret" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "secret_hint"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Each kind's required parts; raises ValidationError naming the field."""
        errors: dict[str, str] = {}
        if self.kind == self.Kind.BASIC and not self.username:
            errors["username"] = "Basic auth needs a user name."
        if self.kind == self.Kind.BASIC and ":" in self.username:
            errors["username"] = "A basic auth user name cannot contain ':'."
        if self.kind == self.Kind.API_KEY and not self.header_name:
            errors["header_name"] = "An API key header needs the header's name."
        if self.kind == self.Kind.API_KEY and self.header_name.lower() in RESERVED_HEADER_NAMES:
            errors["header_name"] = f"{self.header_name} cannot carry an API key."
        if self.kind != self.Kind.API_KEY and self.header_name:
            errors["header_name"] = "Only an API key header has a header name."
        if self.kind != self.Kind.BASIC and self.username:
            errors["username"] = "Only basic auth has a user name."
        if errors:
            raise ValidationError(errors)

    def auth_headers(self) -> dict[str, str]:
        """The header(s) that carry the secret, e.g. ``{"Authorization": "Bearer ..."}``."""
        if self.kind == self.Kind.BASIC:
            pair = base64.b64encode(f"{self.username}:{self.secret}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if self.kind == self.Kind.API_KEY:
            return {self.header_name: self.secret}
        return {"Authorization": f"Bearer {self.secret}"}

    def secret_values(self) -> list[str]:
        """Every text that would reveal a secret (to be masked in anything recorded)."""
        values = [self.secret, self.signing_secret, *self.auth_headers().values()]
        if self.kind == self.Kind.BASIC:
            values.append(self.auth_headers()["Authorization"].removeprefix("Basic "))
        return sorted({value for value in values if value}, key=len, reverse=True)
