"""Strict readers for environment settings.

django-environ parses URLs well but reads "maybe" as a false boolean and a
typo'd port as a crash deep inside a driver. These helpers fail at start-up
with the variable's name in the message instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from stripe_connector.origins import api_origin, api_origins, shown_url

_ENGINES = {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    """Reads typed values from a mapping (``os.environ`` by default)."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self.source = os.environ if source is None else source

    def raw(self, name: str) -> str | None:
        value = self.source.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false).")

    def int(self, name: str, default: int, minimum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
        return number

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(self, name: str, default: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        value = self.str(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            allowed = " or ".join(schemes)
            raise ImproperlyConfigured(f"{name}={value!r} is not an {allowed} URL.")
        return value.rstrip("/")

    def origin(self, name: str, default: str) -> str:
        """One origin, ``scheme://host[:port]`` (see ``stripe_connector.origins``)."""
        value = self.str(name, default)
        try:
            return api_origin(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {shown_url(value)} {exc}.") from None

    def origins(self, name: str, default: list[str]) -> list[str]:
        """A comma-separated list of origins, normalised and sorted; at least one."""
        value = self.raw(name)
        try:
            origins = api_origins(self.list(name) if value is not None else default)
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}: {exc}.") from None
        if not origins:
            raise ImproperlyConfigured(f"{name} must list at least one origin.")
        return sorted(origins)

    def email(self, name: str, default: str) -> dict[str, Any]:
        """Django's EMAIL_* settings from django-environ's email URL, e.g.
        ``smtp+tls://user:password@mail.example.com:587`` or ``consolemail://``.

        Only the URL's scheme is ever shown in an error: it may carry a password.
        """
        value = self.str(name, default)
        try:
            config = environ.Env.email_url_config(value)
        except Exception:
            raise ImproperlyConfigured(
                f"{name}={_scheme(value)}://... is not an email URL (smtp://, smtp+tls://, "
                "smtps://, consolemail://...)."
            ) from None
        # Missing parts keep Django's defaults (port 25, no user).
        return {key: item for key, item in config.items() if item not in (None, "")}

    def emails(self, name: str) -> list[str]:
        """A comma-separated list of email addresses, each checked."""
        addresses = self.list(name)
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                message = f"{name}: {address!r} is not an email address."
                raise ImproperlyConfigured(message) from None
        return addresses

    def optional_url(self, name: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        """An http(s) URL, or "" when unset; the value is never shown (it may be a secret)."""
        value = self.raw(name)
        if value is None:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            allowed = " or ".join(schemes)
            raise ImproperlyConfigured(f"{name} is not an {allowed} URL.")
        return value

    def database(self, name: str, default: str) -> dict[str, Any]:
        value = self.str(name, default)
        try:
            config = environ.Env.db_url_config(value)
        except Exception as exc:
            raise ImproperlyConfigured(f"{name} could not be read: {exc}") from None
        if config.get("ENGINE") not in _ENGINES:
            raise ImproperlyConfigured(
                f"{name}={_scheme(value)}... is not a sqlite:// or postgres:// URL."
            )
        return config


def _scheme(url: str) -> str:
    # Never echo a whole database URL: it may carry a password.
    return url.split(":", 1)[0]
