"""The client's IP address, the one way every throttle reads it (admin logins, API tokens).

Behind TRUSTED_PROXY_COUNT reverse proxies, REMOTE_ADDR is the nearest proxy's address
and each proxy appends the address it saw to X-Forwarded-For: the client is the
entry that many places from the right. Entries further left were written by the
client itself and are never trusted (they would let one client pass as many).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address throttles count failures against (``""`` only without any address).

    With TRUSTED_PROXY_COUNT = 0 (the default: nothing in front), REMOTE_ADDR. With N
    proxies, X-Forwarded-For's N-th entry from the right, as DRF's NUM_PROXIES reads it
    (its left-most entry when the header holds fewer: a proxy left it out).
    """
    remote_addr = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies == 0 or not forwarded:
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote_addr
