"""Stripe API origins: where a Stripe key may be sent.

An origin is ``scheme://host[:port]`` and nothing else. A base URL with user
info, a path, a query or a fragment is refused rather than trimmed: appended to
it, an action's path could land somewhere else (``http://h/x#`` swallows the
path into the fragment, ``http://h@evil`` sends the key to ``evil``).

Pure standard library, so that settings can use it before Django is set up.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

_SCHEMES = ("https", "http")
_DEFAULT_PORTS = {"https": 443, "http": 80}
# A DNS name: letters, digits, dots and hyphens (no percent-escapes, no IDNA tricks).
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")


def api_origin(url: str) -> str:
    """The origin of a Stripe API base, normalised: ``https://api.stripe.com``.

    Accepts ``scheme://host[:port]`` with an optional trailing ``/``; the scheme
    and host are lower-cased and a default port (443, 80) is dropped, so that
    two spellings of one origin compare equal. Raises ValueError naming what is
    wrong (never echoing user info, which may hold a password).
    """
    text = url.strip() if isinstance(url, str) else ""
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in text):
        raise ValueError("must not contain spaces or control characters")
    if any(ch in text for ch in "?#\\"):
        raise ValueError("must be an origin only: no '?' query, '#' fragment or '\\'")
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ValueError("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.netloc:
        raise ValueError("must start with https:// (or http:// for a stand-in)")
    if "@" in parts.netloc:
        raise ValueError("must not contain user info (user:password@)")
    if parts.path not in ("", "/"):
        raise ValueError("must be an origin only (scheme://host[:port]), without a path")
    return f"{scheme}://{_netloc(scheme, parts)}"


def api_origins(urls: Iterable[str]) -> frozenset[str]:
    """``api_origin`` of each URL; ValueError names the first bad one."""
    origins = set()
    for url in urls:
        try:
            origins.add(api_origin(url))
        except ValueError as exc:
            raise ValueError(f"{shown_url(url)} {exc}") from None
    return frozenset(origins)


def _netloc(scheme: str, parts) -> str:
    """``host[:port]`` with a valid host and port; the scheme's default port is dropped."""
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not host:
        raise ValueError("has no host")
    if _is_ipv6(host):
        host = f"[{host}]"
    elif not _HOSTNAME.match(host):
        raise ValueError("has an invalid host name")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return host
    return f"{host}:{port}"


def _is_ipv6(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """The URL quoted for a message, without user info (it may hold a password)."""
    text = str(url)
    if "@" in text:
        scheme, _, rest = text.partition("://")
        text = f"{scheme}://...@{rest.rsplit('@', 1)[1]}"
    return repr(text)
