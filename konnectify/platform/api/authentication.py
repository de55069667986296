"""Bearer-token authentication for other systems, throttled after repeated failures."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from konnectify.platform.client_ip import client_ip
from konnectify.platform.models import ApiToken

FAILED_TOKEN_MARK = "konnectify_failed_token"


class FailedTokenThrottle(SimpleRateThrottle):
    """Failed bearer tokens per client IP, in Django's cache (the database cache, shared
    by every process): API_TOKEN_FAILURE_LIMIT failures within
    API_TOKEN_FAILURE_WINDOW_SECONDS block that address's bearer requests until the
    oldest of them leaves the window.

    Only failures are counted, so clients with a valid token are never slowed; while
    an address is blocked, its valid tokens wait too (otherwise guessing could go on,
    with a 200 marking the hit). Concurrent failures may overwrite each other's count
    (the cache has no atomic append): a few more guesses, never fewer answers.
    """

    scope = "failed_token"

    def parse_rate(self, rate) -> tuple[int, int]:
        return settings.API_TOKEN_FAILURE_LIMIT, settings.API_TOKEN_FAILURE_WINDOW_SECONDS

    def get_rate(self) -> str:
        return "from settings"  # parse_rate reads the figures

    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _load(self, request) -> None:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        history = self.cache.get(self.key, [])
        self.history = [stamp for stamp in history if stamp > self.now - self.duration]

    def blocked(self, request) -> bool:
        """Whether this address has failed too often lately (``wait()`` then says how long)."""
        self._load(request)
        return len(self.history) >= self.num_requests

    def record_failure(self, request) -> None:
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def wait(self) -> float:
        """Seconds until the oldest failure in the window expires."""
        return max(1.0, self.duration - (self.now - self.history[-1]))


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer kfy_...``; the request then acts as the token's user."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword:
            return None
        throttle = FailedTokenThrottle()
        if throttle.blocked(request):
            raise exceptions.Throttled(
                wait=throttle.wait(),
                detail="Too many failed API tokens from this address.",
            )
        if len(header) != 2:
            raise failed(request, "Malformed Authorization header.")
        token = ApiToken.find(header[1])
        if token is None:
            raise failed(request, "Invalid or revoked API token.")
        token.touch()
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


def failed(request, message: str) -> exceptions.AuthenticationFailed:
    """The 401 to raise; marks the request so that ``FailedTokenMiddleware`` counts it."""
    setattr(request._request, FAILED_TOKEN_MARK, True)
    return exceptions.AuthenticationFailed(message)


class FailedTokenMiddleware:
    """Counts a failed bearer token once the request's transaction is over.

    With ATOMIC_REQUESTS the view runs in a transaction that a 401 rolls back; the
    database cache writes in that same transaction, so a failure recorded inside the
    view would vanish with it. Middleware runs outside the view's transaction.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, FAILED_TOKEN_MARK, False):
            FailedTokenThrottle().record_failure(request)
        return response


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "konnectify.platform.api.authentication.TokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API token (kfy_...)."}
