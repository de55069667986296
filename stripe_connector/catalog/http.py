"""HTTP request: reach a system around Stripe (a CRM, Slack, your own service) from a step.

The step's input is data like every other action's, and field mapping renders
in every part of it: URL, query, headers and body. The request itself is sent
by the client the caller hands in (``HttpSender``): it adds the chosen
credential's secret and the signature at send time, so the step's recorded
input never holds a secret, and it sends through the outbound guard
(``stripe_connector.outbound``). Failures are the Stripe client's error types,
so the engine retries them the same way: network errors, 429 and 5xx retry
(``Retry-After`` honoured) with the step's Idempotency-Key on every attempt;
any other 4xx fails at once with the status and an excerpt of the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.base import Action, ActionResult, schema_errors
from stripe_connector.catalog.values import prepare
from stripe_connector.errors import (
    ActionInputError,
    APIError,
    RateLimitError,
    StripeError,
    error_class_for,
)
from stripe_connector.jsonbounds import JSONProblem
from stripe_connector.jsonbounds import loads as bounded_loads
from stripe_connector.outbound import OutboundResponse, retry_after_seconds

GROUP = "HTTP"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_FIELDS = ("json_body", "form_body", "text_body")
# What of the answer's body the output keeps when it is not JSON (characters).
TEXT_LIMIT = 65_536
# How much of a failed answer's body the step's error shows (characters).
ERROR_EXCERPT = 500
# The answer's headers copied to the output (lower case); others are left out.
KEPT_HEADERS = (
    "content-type",
    "location",
    "retry-after",
    "request-id",
    "x-request-id",
    "x-correlation-id",
    "idempotency-key",
)
# The guard and the sender own these; a step setting them could smuggle a
# second request (Content-Length, Transfer-Encoding) or reach another host (Host).
# Authorization belongs in a credential, whose secret never lands in a run's input.
RESERVED_HEADERS = (
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "authorization",
    "proxy-authorization",
    "konnectify-signature",
)
# The automations' placeholder URLs use the reserved .invalid domain (RFC 2606).
PLACEHOLDER_HOST = re.compile(r"(^|\.)invalid$")
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
# Control characters a header value must not hold (tab is allowed; RFC 9110 section 5.5).
HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
USER_AGENT = "Konnectify-HTTP-Step/1"


class HttpSender(Protocol):
    """What the HTTP action sends with (``connections.outbound.HttpClient``)."""

    def send_http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None,
        credential: str | None,
    ) -> OutboundResponse: ...


class HttpAction(Action):
    """An action that speaks plain HTTP: validated by its schema and rules only.

    Stripe's form-encoding limits (no ``[`` in keys, ...) do not apply to a JSON body.
    """

    def validate(self, input: dict[str, Any]) -> dict[str, Any]:
        """As ``Action.validate`` (``None`` means not given), without Stripe's encoding rules."""
        if not isinstance(input, Mapping):
            raise ActionInputError([{"field": "", "message": "the input must be an object"}])
        cleaned = prepare(self.input_schema, _drop_none(dict(input)))
        errors = schema_errors(self.input_schema, cleaned)
        if not errors:
            errors = [error for rule in self.rules for error in rule(cleaned)]
        if errors:
            raise ActionInputError(errors)
        return cleaned


def is_http_action(action: Action) -> bool:
    """Whether ``action`` sends plain HTTP (and needs an ``HttpSender``, not a StripeClient)."""
    return isinstance(action, HttpAction)


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value if item is not None]
    return value


# -- rules ------------------------------------------------------------------------


def _one_body(data: dict[str, Any]) -> list[dict[str, str]]:
    """At most one body; none on GET."""
    given = [name for name in BODY_FIELDS if name in data]
    if len(given) > 1:
        return [{"field": given[1], "message": f"give only one of: {', '.join(BODY_FIELDS)}"}]
    if given and data.get("method", "GET") == "GET":
        return [{"field": given[0], "message": "a GET request carries no body"}]
    return []


def _url_rules(data: dict[str, Any]) -> list[dict[str, str]]:
    """A real http(s) URL with a host, not a template's placeholder, no password in it."""
    try:
        parts = urlsplit(data["url"])
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        return [{"field": "url", "message": f"is not a valid URL ({exc})"}]
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return [{"field": "url", "message": "has no host"}]
    if PLACEHOLDER_HOST.search(host):
        return [{"field": "url", "message": f"{host} is a placeholder: set your endpoint's URL"}]
    if parts.username is not None or parts.password is not None:
        return [
            {"field": "url", "message": "must not carry a user name or password; use a credential"}
        ]
    return []


def _header_rules(data: dict[str, Any]) -> list[dict[str, str]]:
    """No header the sender owns (Host, Authorization, ...); values HTTP can carry.

    Checked on the rendered values too (a reference to a customer's name), since
    the engine validates after rendering: a value must be ISO-8859-1 (Latin-1),
    which is what HTTP/1.1 sends (RFC 9110 section 5.5), without control
    characters other than tab (no line break could start a second header).
    """
    errors = []
    for name, value in data.get("headers", {}).items():
        field = f"headers.{name}"
        if name.lower() in RESERVED_HEADERS:
            hint = "use a credential" if "authorization" in name.lower() else "leave it out"
            errors.append({"field": field, "message": f"is set by the request itself; {hint}"})
        elif problem := header_value_problem(str(value)):
            errors.append({"field": field, "message": problem})
    return errors


def header_value_problem(value: str) -> str | None:
    """What keeps ``value`` from being sent as a header value, or None.

    HTTP/1.1 header values are ISO-8859-1 octets without control characters
    but tab (RFC 9110 section 5.5); Python's http.client refuses anything else.
    """
    if bad := HEADER_CONTROL.search(value):
        return f"must not contain control characters or line breaks (found {bad.group()!r})"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError as exc:
        return (
            f"has characters HTTP headers cannot carry ({value[exc.start : exc.end]!r}); "
            "only Latin-1 text (ISO-8859-1): send such text in the body or the query instead"
        )
    return None


# -- the request ------------------------------------------------------------------


def build_request(
    data: dict[str, Any], idempotency_key: str | None
) -> tuple[str, dict[str, str], bytes | None]:
    """URL (query merged in), headers and body bytes for validated ``data``.

    The body's Content-Type follows its field unless the step's headers set one;
    ``Idempotency-Key`` is the step's key unless the step's headers set one.
    """
    url = _with_query(data["url"], data.get("query", {}))
    headers: dict[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json, */*"}
    body: bytes | None = None
    if "json_body" in data:
        body = json.dumps(data["json_body"], ensure_ascii=False, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    elif "form_body" in data:
        body = urlencode(data["form_body"]).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif "text_body" in data:
        body = data["text_body"].encode()
        headers["Content-Type"] = "text/plain; charset=utf-8"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    given = {name.lower(): name for name in data.get("headers", {})}
    headers = {name: value for name, value in headers.items() if name.lower() not in given}
    headers.update({name: str(value) for name, value in data.get("headers", {}).items()})
    return url, headers, body


def _with_query(url: str, query: Mapping[str, Any]) -> str:
    """``url`` with ``query``'s pairs appended to the query it already has."""
    if not query:
        return url
    parts = urlsplit(url)
    extra = urlencode({name: _query_value(value) for name, value in query.items()})
    joined = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def http_request(
    action: Action, client: HttpSender, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """Send the request; the answer as output, or the Stripe client's error types.

    Output: ``{"status", "headers", "body", "body_truncated", "url"}`` (see the
    action's description). Raises RateLimitError (429) or APIError (5xx), both
    retryable with ``retry_after``; a subclass of StripeError for any other 4xx,
    not retryable, its message naming the status and the start of the body.
    """
    url, headers, body = build_request(data, idempotency_key)
    response = client.send_http(
        data["method"], url, headers=headers, body=body, credential=data.get("credential")
    )
    if response.status >= 400:
        raise status_error(data["method"], response)
    return ActionResult(output=output_of(response))


def status_error(method: str, response: OutboundResponse) -> StripeError:
    """The error for a 4xx/5xx answer, classified as the Stripe client does for HTTP.

    The answer's text is masked (``response.mask``) before it is cut to the excerpt,
    so a secret cannot survive half-cut.
    """
    status = response.status
    excerpt = response.mask(_text(response))[:ERROR_EXCERPT]
    host = urlsplit(response.url).netloc
    message = f"{method} {host} answered HTTP {status}" + (f": {excerpt}" if excerpt else ".")
    request_id = next(
        (response.headers[n] for n in ("request-id", "x-request-id") if n in response.headers),
        None,
    )
    if request_id:
        message += f" (its request id: {request_id})"
    message = response.mask(message)
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    if status == 429:
        cls, retryable = RateLimitError, True
    elif status >= 500:
        cls, retryable = APIError, True
    else:
        cls, retryable = error_class_for(status, None), False
    return cls(
        message,
        http_status=status,
        type="http_error",
        retryable=retryable,
        retry_after=retry_after,
    )


def output_of(response: OutboundResponse) -> dict[str, Any]:
    """The step's output: status, kept headers, body as JSON when it is JSON, else text.

    Masked after decoding (``response.mask``): a secret the answer echoes JSON-escaped
    (``\\/``, ``\\u0073``) or in another charset is hidden in its decoded form too.
    JSON outside the product's bound (``jsonbounds.loads``: nesting past 64 levels,
    ``1e400``, a lone surrogate ``"\\ud800"``, which no page could show nor
    PostgreSQL store) is kept as the text it is.
    """
    body: Any = None
    text = response.mask(_text(response))
    truncated = response.truncated
    if _is_json(response) and not truncated and response.body.strip():
        try:
            body = bounded_loads(response.body)
        except (JSONProblem, UnicodeDecodeError):
            body = None
    if body is None:
        truncated = truncated or len(text) > TEXT_LIMIT
        body = text[:TEXT_LIMIT]
    return response.mask(
        {
            "status": response.status,
            "headers": {
                name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
            },
            "body": body,
            "body_truncated": truncated,
            "url": response.url,
        }
    )


def _is_json(response: OutboundResponse) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _text(response: OutboundResponse) -> str:
    """The body as text, in the charset the answer names (UTF-8 otherwise)."""
    match = re.search(r"charset=([\w.-]+)", response.headers.get("content-type", ""), re.I)
    try:
        return response.body.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return response.body.decode("utf-8", errors="replace")


def _string_map(description: str) -> s.Schema:
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"minLength": 1, "maxLength": 200},
        "additionalProperties": {"type": "string", "maxLength": 8000},
        "maxProperties": 100,
    }


ACTIONS = [
    HttpAction(
        key="http_request",
        label="HTTP request",
        group=GROUP,
        description=(
            "Send an HTTP request to another system (a CRM, a Slack incoming webhook, your own "
            "service) through the outbound guard: public http(s) addresses only, unless "
            "HTTP_STEP_ALLOWED_NETWORKS or HTTP_STEP_ALLOWED_HOSTS allow more; at most 3 "
            "redirects. A credential adds its secret (and, when it has a signing secret, a "
            "Konnectify-Signature header) at send time. Network errors, 429 and 5xx are "
            "retried with the step's Idempotency-Key; other 4xx fail with the answer. "
            "Output: status; headers (only content-type, location, retry-after, request-id, "
            "x-request-id, x-correlation-id, idempotency-key); body, parsed when the answer "
            "is JSON within the product's bound (nested at most 64 levels, finite numbers, "
            f"text without lone surrogates), else text cut at {TEXT_LIMIT:,} characters; "
            "body_truncated (the body was cut, or passed the 1 MB read cap); url (after "
            "redirects)."
        ),
        method="ANY",
        path="{url}",
        input_schema=s.input_schema(
            {
                "method": s.enum("HTTP method", *METHODS),
                "url": s.string(
                    "URL to call, http:// or https://; references render in it",
                    pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$",
                    max_length=2048,
                ),
                "credential": s.string(
                    "Name of a stored credential (Connections > Credentials); its secret is "
                    "added when the request is sent and never recorded",
                    pattern=r"^[A-Za-z0-9_.-]+$",
                    max_length=100,
                ),
                "query": _string_map("Query parameters added to the URL"),
                "headers": {
                    **_string_map("Request headers (not Host, Authorization or Content-Length)"),
                    "propertyNames": {"pattern": HEADER_NAME, "maxLength": 200},
                    "additionalProperties": {"type": "string", "maxLength": 8000},
                },
                "json_body": {"type": "object", "description": "Body sent as JSON"},
                "form_body": _string_map("Body sent form-encoded (name=value&...)"),
                "text_body": s.string("Body sent as raw text (text/plain unless a header says)"),
            },
            required=["method", "url"],
        ),
        handler=http_request,
        call_note="any URL the outbound guard allows",
        rules=(_one_body, _url_rules, _header_rules),
    ),
]
