"""A small Stripe HTTP client over ``requests``: one object per connection.

It sends Stripe's headers, form-encodes parameters, and turns every answer into
either a ``StripeResponse`` or a ``StripeError`` that says whether retrying can
help. It never retries by itself: the workflow engine owns retries (with the
step's fixed idempotency key), so a retry policy here would multiply theirs.

The secret key lives only inside a ``requests`` auth object and is masked in
every ``repr``; log lines carry method, path, status, request id and duration,
never parameters (they may hold personal data) and never the key.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from stripe_connector.encoding import encode_params
from stripe_connector.errors import (
    APIBaseNotAllowed,
    APIConnectionError,
    APIError,
    StripeError,
    error_class_for,
)
from stripe_connector.origins import api_origin, api_origins, shown_url

DEFAULT_API_VERSION = "2026-04-22.dahlia"
USER_AGENT = "Konnectify/0.1 (python-requests)"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_PAGE_SIZE = 100
METHODS = frozenset({"GET", "POST", "DELETE"})

# ``throttle(method, path)`` runs right before each HTTP request: it may sleep
# (pacing) or raise a retryable StripeError (e.g. konnectify.platform.ratelimit.Throttled).
Throttle = Callable[[str, str], None]

logger = logging.getLogger(__name__)

_KEY_PATTERN = re.compile(r"(sk|rk)_(test|live)_([A-Za-z0-9]+)")
_KINDS = {"sk": "secret", "rk": "restricted"}


# --- keys --------------------------------------------------------------------


def _parse_key(key: str) -> tuple[str, str, str]:
    """Split a key into (prefix, mode, body); every message describes, never echoes, the key."""
    if not isinstance(key, str) or not key:
        raise ValueError("The Stripe key is empty.")
    if key.startswith("pk_"):
        raise ValueError(
            "This is a publishable key (pk_...); use a secret (sk_...) or restricted (rk_...) key."
        )
    match = _KEY_PATTERN.fullmatch(key)
    if not match:
        raise ValueError(
            "This is not a Stripe secret or restricted key: expected sk_test_, sk_live_, "
            "rk_test_ or rk_live_ followed by letters and digits, without spaces."
        )
    return match.group(1), match.group(2), match.group(3)


def mask_key(key: str) -> str:
    """``sk_live_...abcd``: enough to recognise a key, as Stripe's dashboard shows it."""
    prefix, mode, body = _parse_key(key)
    tail = body[-4:] if len(body) >= 8 else ""  # a short body would be given away whole
    return f"{prefix}_{mode}_...{tail}"


def key_mode(key: str) -> str:
    """``"test"`` or ``"live"``."""
    return _parse_key(key)[1]


def key_kind(key: str) -> str:
    """``"secret"`` (sk_) or ``"restricted"`` (rk_)."""
    return _KINDS[_parse_key(key)[0]]


class _BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer``; holding the key here keeps it out of reprs and locals."""

    def __init__(self, key: str) -> None:
        self._key = key
        self.hint = mask_key(key)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {self.hint}>"


# --- sessions ----------------------------------------------------------------

_local = threading.local()


def _new_session() -> requests.Session:
    """A pooled session that keeps no cookies (clients of different accounts share it).

    It ignores the environment (``trust_env``): HTTP(S)_PROXY / ALL_PROXY would send
    every call, with its ``Authorization: Bearer`` key, through a proxy (one that reads
    it on an http stand-in), and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / .netrc would
    change whom TLS trusts or what is sent. A key goes only to the configured origin.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=10, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def shared_session() -> requests.Session:
    """This thread's pooled session: clients are cheap, connections to Stripe are reused.

    Per thread because ``requests.Session`` is not documented as thread-safe.
    """
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = _new_session()
    return session


# --- responses ---------------------------------------------------------------


@dataclass(frozen=True)
class StripeResponse:
    """A successful answer: the decoded JSON object and Stripe's ``Request-Id``."""

    data: dict[str, Any]
    request_id: str | None
    http_status: int
    idempotency_key: str | None = None


def _decode_json(response: requests.Response) -> Any:
    """The decoded body, or None when it is not JSON (a proxy's HTML page, garbage)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _retry_after(response: requests.Response) -> float | None:
    """Seconds to wait from ``Retry-After`` (a number or an HTTP date), None when absent."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def is_retryable(http_status: int, code: str | None, should_retry: str | None) -> bool:
    """Whether the same request may succeed later; Stripe's own header wins over our guess."""
    verdict = (should_retry or "").strip().lower()
    if verdict in ("true", "false"):
        return verdict == "true"
    return http_status in (409, 429) or http_status >= 500 or code == "lock_timeout"


def _error_from_response(response: requests.Response, body: Any) -> StripeError:
    """A typed StripeError for a non-2xx answer, whatever its body looks like."""
    status = response.status_code
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return _unreadable_answer(response)
    code = _text(detail.get("code"))
    error_type = _text(detail.get("type"))
    cls = error_class_for(status, error_type)
    return cls(
        _text(detail.get("message")) or f"Stripe answered HTTP {status}.",
        http_status=status,
        type=error_type,
        code=code,
        param=_text(detail.get("param")),
        decline_code=_text(detail.get("decline_code")),
        request_id=response.headers.get("Request-Id"),
        retryable=is_retryable(status, code, response.headers.get("Stripe-Should-Retry")),
        retry_after=_retry_after(response),
    )


def _unreadable_answer(response: requests.Response) -> StripeError:
    """An answer that is not Stripe's JSON: name the status and content type, never the body.

    Retryable as its status says (a proxy's 502 is); a 2xx or 3xx that is not Stripe's
    JSON means a wrong base URL or a redirect, which retrying will not fix.
    """
    status = response.status_code
    content_type = response.headers.get("Content-Type", "no content type").split(";")[0]
    cls = APIError if status < 400 else error_class_for(status, None)
    should_retry = response.headers.get("Stripe-Should-Retry")
    retryable = status >= 400 and is_retryable(status, None, should_retry)
    return cls(
        f"Stripe answered HTTP {status} with a body that is not a Stripe JSON object "
        f"({content_type}); a proxy or a wrong STRIPE_API_BASE may be in the way.",
        http_status=status,
        type="api_error",
        request_id=response.headers.get("Request-Id"),
        retryable=retryable,
        retry_after=_retry_after(response),
    )


def _text(value: Any) -> str | None:
    """Stripe's error fields are strings; anything else is dropped rather than trusted."""
    return value if isinstance(value, str) and value else None


def _network_error(exc: requests.RequestException, timeout: tuple[float, float]) -> StripeError:
    """A retryable error for a request that got no answer; the message names what happened."""
    if isinstance(exc, requests.ConnectTimeout):
        what = f"connecting timed out after {timeout[0]:g} s"
    elif isinstance(exc, requests.ReadTimeout):
        what = f"no answer within {timeout[1]:g} s (read timeout)"
    elif isinstance(exc, requests.ConnectionError):
        what = "the connection failed or was reset"
    else:
        what = f"the request failed ({type(exc).__name__})"
    return APIConnectionError(
        f"Could not reach Stripe: {what}. It is safe to retry with the same idempotency key.",
        type="api_connection_error",
        retryable=True,
    )


# --- the client --------------------------------------------------------------


class StripeClient:
    """Calls Stripe with one key, one pinned API version and one base URL.

    ``base_url`` and the timeouts default to ``settings.STRIPE_API_BASE``,
    ``STRIPE_CONNECT_TIMEOUT`` and ``STRIPE_READ_TIMEOUT``. The base must be one
    of ``allowed_bases`` (default: ``allowed_api_origins()``, what the operator's
    environment allows), else ``APIBaseNotAllowed``; every request's URL is
    checked against them again before the key goes out. ``session`` defaults to
    this thread's pooled session. ``throttle``, when given, is called as
    ``throttle(method, path)`` right before each HTTP request (built outside this
    package, e.g. ``konnectify.platform.ratelimit.stripe_throttle``). Every failure raises
    ``StripeError``.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_version: str | None = DEFAULT_API_VERSION,
        base_url: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        session: requests.Session | None = None,
        throttle: Throttle | None = None,
        allowed_bases: Iterable[str] | None = None,
    ) -> None:
        self._auth = _BearerAuth(api_key)
        self.key_hint = self._auth.hint
        self.mode = key_mode(api_key)
        self.key_kind = key_kind(api_key)
        self.api_version = api_version or DEFAULT_API_VERSION
        self.allowed_origins = (
            allowed_api_origins() if allowed_bases is None else api_origins(allowed_bases)
        )
        self.base_url = _base_url(base_url or settings.STRIPE_API_BASE, self.allowed_origins)
        self.timeout = (
            _positive(connect_timeout or settings.STRIPE_CONNECT_TIMEOUT, "connect_timeout"),
            _positive(read_timeout or settings.STRIPE_READ_TIMEOUT, "read_timeout"),
        )
        self.session = session or shared_session()
        self.throttle = throttle

    def __repr__(self) -> str:
        return (
            f"<StripeClient {self.key_hint} api_version={self.api_version} "
            f"base_url={self.base_url}>"
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> StripeResponse:
        """GET with ``params`` in the query string."""
        return self.request("GET", path, params)

    def post(
        self, path: str, params: dict[str, Any] | None = None, *, idempotency_key: str | None = None
    ) -> StripeResponse:
        """POST with a form body and an Idempotency-Key (the given one or a fresh UUID)."""
        return self.request("POST", path, params, idempotency_key=idempotency_key)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> StripeResponse:
        """DELETE with ``params`` in the query string."""
        return self.request("DELETE", path, params)

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> StripeResponse:
        """Send one request; return the decoded object or raise ``StripeError``.

        ``idempotency_key`` is used on POST only: Stripe ignores it on GET and
        DELETE, which are idempotent anyway, so callers may pass it for any method.
        """
        method = _method(method)
        url = self._url(path)
        headers, key = self._headers(method, idempotency_key)
        pairs = encode_params(params)
        body = {"data": pairs} if method == "POST" else {"params": pairs}
        if self.throttle is not None:
            self.throttle(method, path)  # after validation: a refused request books no slot
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect would carry the key to another URL
                **body,
            )
        except requests.RequestException as exc:
            self._log(
                method, path, f"failed ({type(exc).__name__})", None, started, logging.WARNING
            )
            raise _network_error(exc, self.timeout) from exc
        self._log(method, path, response.status_code, response.headers.get("Request-Id"), started)
        return self._result(response, key)

    def list_all(
        self, path: str, params: dict[str, Any] | None = None, *, max_objects: int = 1000
    ) -> list[dict[str, Any]]:
        """All objects of a list endpoint (paged by ``starting_after``), up to ``max_objects``."""
        query = dict(params or {})
        wanted = _page_size(query.pop("limit", MAX_PAGE_SIZE))
        objects: list[dict[str, Any]] = []
        while len(objects) < _cap(max_objects):
            query["limit"] = min(wanted, max_objects - len(objects))
            page = self.get(path, query).data
            data = _page_data(page, path)
            objects.extend(data)
            if not page.get("has_more") or not data:
                break
            query["starting_after"] = _cursor(data[-1], path)
        return objects[:max_objects]

    def search_all(
        self,
        path: str,
        query: str,
        *,
        limit: int = 100,
        max_objects: int = 1000,
        params: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Search results across pages (``next_page``), at most ``max_objects``.

        Returns the objects and whether more exist beyond them. ``params`` adds
        e.g. ``expand``. Search is not read-after-write (an object written a moment ago may
        be missing): https://docs.stripe.com/search#data-freshness
        """
        request = {**(params or {}), "query": query}
        wanted = _page_size(limit)
        objects: list[dict[str, Any]] = []
        while True:
            request["limit"] = min(wanted, max(1, _cap(max_objects) - len(objects)))
            page = self.get(path, request).data
            data = _page_data(page, path)
            objects.extend(data)
            more = bool(page.get("has_more") and page.get("next_page"))
            if not more or not data or len(objects) >= max_objects:
                return objects[:max_objects], more or len(objects) > max_objects
            request["page"] = page["next_page"]

    def _url(self, path: str) -> str:
        """The request URL, checked again: an allowed origin, and exactly ``path``.

        Defence in depth: ``base_url`` was checked when the client was made, but
        the key must never leave for another origin, nor for another path than
        the one validated, whatever happened in between.
        """
        url = self.base_url + _path(path)
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.allowed_origins:
            raise APIBaseNotAllowed(_not_allowed(origin))
        if parts.path != path or parts.query or parts.fragment:
            raise APIBaseNotAllowed(
                f"The Stripe request URL would not call {_path_for_log(path)} on {origin}; "
                "nothing was sent."
            )
        return url

    def _headers(
        self, method: str, idempotency_key: str | None
    ) -> tuple[dict[str, str], str | None]:
        """Stripe's headers for one request, and the idempotency key used (POST only)."""
        headers = {
            "Stripe-Version": self.api_version,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if method != "POST":
            return headers, None
        key = idempotency_key or str(uuid.uuid4())
        if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValueError("An Idempotency-Key may have at most 255 characters.")
        headers["Idempotency-Key"] = key
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers, key

    def _result(self, response: requests.Response, key: str | None) -> StripeResponse:
        """Decode a 2xx answer into a StripeResponse; turn anything else into a StripeError."""
        body = _decode_json(response)
        if not 200 <= response.status_code < 300:
            raise _error_from_response(response, body)
        if not isinstance(body, dict):
            raise _unreadable_answer(response)
        return StripeResponse(
            data=body,
            request_id=response.headers.get("Request-Id"),
            http_status=response.status_code,
            idempotency_key=key,
        )

    def _log(
        self,
        method: str,
        path: str,
        status: int | str,
        request_id: str | None,
        started: float,
        level: int = logging.INFO,
    ) -> None:
        """One line per request: no parameters (personal data) and no key."""
        elapsed_ms = (time.monotonic() - started) * 1000
        _notify_observers(method, status, elapsed_ms / 1000)
        logger.log(
            level,
            "Stripe %s %s -> %s in %.0f ms (request %s, %s)",
            method,
            _path_for_log(path),
            status,
            elapsed_ms,
            request_id or "-",
            self.key_hint,
        )


# --- watching requests -------------------------------------------------------

# Called after each request as ``observer(method, status, seconds)``: ``status`` is the
# HTTP status (int) or, when no answer came, a short text. Registered from outside this
# package (konnectify.platform.metrics counts requests for Prometheus), which it does
# not import. An observer must be quick and must not raise.
RequestObserver = Callable[[str, int | str, float], None]
_request_observers: list[RequestObserver] = []


def observe_requests_with(observer: RequestObserver) -> None:
    """Register ``observer`` for every request any client sends (once; again is a no-op)."""
    if observer not in _request_observers:
        _request_observers.append(observer)


def _notify_observers(method: str, status: int | str, seconds: float) -> None:
    for observer in _request_observers:
        try:
            observer(method, status, seconds)
        except Exception:  # counting must never fail a call to Stripe
            logger.exception("Stripe request observer %r failed", observer)


# --- small checks ------------------------------------------------------------


def _method(method: str) -> str:
    """GET, POST or DELETE: the only methods Stripe's v1 API uses."""
    upper = str(method).upper()
    if upper not in METHODS:
        raise ValueError(f"Unsupported HTTP method {method!r}; use GET, POST or DELETE.")
    return upper


def _path(path: str) -> str:
    """An absolute API path such as ``/v1/customers/cus_123`` (no host, no query)."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError("The Stripe path must start with a single '/', e.g. /v1/customers.")
    if any(ch in path for ch in "?#\\") or any(ch.isspace() or not ch.isprintable() for ch in path):
        raise ValueError(
            "The Stripe path must not contain '?', '#', '\\', spaces or control characters; "
            "pass params."
        )
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError("The Stripe path must not contain . or .. segments.")
    return path


def _path_for_log(path: str) -> str:
    """The path, trimmed: it is caller-controlled text going into a log line."""
    text = str(path)
    return text if len(text) <= 200 else text[:200] + "..."


def allowed_api_origins() -> frozenset[str]:
    """The origins a Stripe key may go to: ``STRIPE_API_BASE`` and ``STRIPE_API_ALLOWED_BASES``.

    Read from settings on each call (both come from the operator's environment),
    normalised by ``api_origin``.
    """
    return api_origins([settings.STRIPE_API_BASE, *settings.STRIPE_API_ALLOWED_BASES])


def _base_url(url: str, allowed: frozenset[str]) -> str:
    """The base's origin, ``https://api.stripe.com``, if it is one of ``allowed``.

    Raises ``APIBaseNotAllowed`` (a ValueError and a non-retryable StripeError)
    for anything but a bare origin, or an origin not allowed.
    """
    try:
        origin = api_origin(url)
    except ValueError as exc:
        raise APIBaseNotAllowed(f"The Stripe base URL {shown_url(url)} {exc}.") from None
    if origin not in allowed:
        raise APIBaseNotAllowed(_not_allowed(origin))
    return origin


def _not_allowed(origin: str) -> str:
    return (
        f"The Stripe API base {origin} is not one the environment allows "
        "(STRIPE_API_BASE, STRIPE_API_ALLOWED_BASES); nothing was sent."
    )


def _positive(value: float, name: str) -> float:
    """A timeout in seconds; zero or less would mean 'no timeout' or an instant failure."""
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds.")
    return value


def _page_size(limit: Any) -> int:
    """Stripe's ``limit`` is 1-100; clamp rather than fail."""
    return max(1, min(MAX_PAGE_SIZE, int(limit)))


def _cap(max_objects: int) -> int:
    """The paging cap must be at least one object."""
    if max_objects < 1:
        raise ValueError("max_objects must be at least 1.")
    return max_objects


def _cursor(last: Any, path: str) -> str:
    """The id to continue after; without one, paging would fetch the same page again."""
    cursor = last.get("id") if isinstance(last, dict) else None
    if not isinstance(cursor, str) or not cursor:
        raise APIError(f"Stripe's list for {path} has an object without an id; cannot page on.")
    return cursor


def _page_data(page: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The ``data`` list of a list or search answer."""
    data = page.get("data")
    if not isinstance(data, list):
        raise APIError(f"Stripe's answer for {path} has no 'data' list; is it a list endpoint?")
    return data
