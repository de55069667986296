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
import ipaddress
import re
from typing import ClassVar
from urllib.parse import urlsplit

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
# One allowed host: a DNS name (optionally "*." + name for its subdomains) or an IP
# literal (IPv6 in brackets), optionally ":port".
_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"\A(\*\.)?{_HOST_LABEL}(\.{_HOST_LABEL})*\Z")
DEFAULT_PORTS = {"http": 80, "https": 443}  # a URL without a port: the scheme's
NO_HOSTS = (
    "Credential {name!r} lists no allowed hosts: its secret is sent to none. Set its "
    "allowed hosts (Connections > Credentials) to the hosts that may receive it."
)


def secret_hint(secret: str) -> str:
    """What admin and the API show of a secret: its last 4 characters when it is long."""
    if not secret:
        return ""
    return f"••••{secret[-4:]}" if len(secret) >= 16 else "••••"


def _no_line_breaks(value: str) -> None:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValidationError("must not contain line breaks or NUL characters.")


def parse_allowed_hosts(text: str) -> list[tuple[str, int | None]]:
    """``allowed_hosts`` text as ``(host, port)`` rules; ValidationError naming the entry.

    One entry per line (commas work too): ``crm.example.com`` (that host, any port,
    as Django's ALLOWED_HOSTS), ``crm.example.com:8443`` (that port only),
    ``*.example.com`` (any subdomain of example.com, not example.com itself) or an
    IP literal (``10.0.0.5``, ``[2001:db8::1]:8080``). Names are compared
    case-insensitively, without a trailing dot; no other wildcards.
    """
    rules: list[tuple[str, int | None]] = []
    for entry in re.split(r"[\s,]+", text or ""):
        if not entry:
            continue
        try:
            parts = urlsplit(f"//{entry}")
            host, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            host, port = "", None
        wildcard = entry.startswith("*.")
        if wildcard:
            host = "*." + host.removeprefix("*.")
        valid = bool(host) and not parts.username and not parts.path and not parts.query
        if valid and not _DNS_NAME.match(host):
            try:
                ipaddress.ip_address(host)
            except ValueError:
                valid = False
            else:
                valid = not wildcard
        if not valid or port == 0:
            raise ValidationError(
                f"{entry!r} is not a host name: write e.g. crm.example.com, "
                "crm.example.com:8443 or *.example.com (one per line)."
            )
        rules.append((host, port))
    return rules


def host_allowed(rules: list[tuple[str, int | None]], url: str) -> bool:
    """Whether ``url``'s host and port match one of ``rules`` (``parse_allowed_hosts``)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return False
    for rule_host, rule_port in rules:
        if rule_host.startswith("*."):
            matched = host.endswith(rule_host[1:]) and host != rule_host[2:]
        else:
            matched = host == rule_host
        if matched and rule_port in (None, port):
            return True
    return False


def _valid_hosts(value: str) -> None:
    parse_allowed_hosts(value)


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
    allowed_hosts = models.TextField(
        blank=True,
        validators=[_valid_hosts],
        help_text="The only hosts its secret is sent to, one per line: crm.example.com "
        "(any port), crm.example.com:8443 (that port only), or *.example.com for its subdomains. A "
        "request to any other host is refused before anything is sent.",
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
        if not (self.allowed_hosts or "").strip():
            errors["allowed_hosts"] = (
                "List at least one host the secret may be sent to, e.g. crm.example.com."
            )
        if errors:
            raise ValidationError(errors)

    def require_host(self, url: str) -> None:
        """ValidationError naming the rule unless ``url``'s host is in ``allowed_hosts``.

        An empty list (credentials stored before hosts existed) allows no host.
        """
        rules = parse_allowed_hosts(self.allowed_hosts)
        if not rules:
            raise ValidationError(NO_HOSTS.format(name=self.name))
        if not host_allowed(rules, url):
            host = urlsplit(url).netloc.rpartition("@")[2]
            listed = ", ".join(f"{h}:{p}" if p else h for h, p in rules)
            raise ValidationError(
                f"Credential {self.name!r} may not be sent to {host}: its allowed hosts are "
                f"{listed}."
            )

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
