"""The outbound guard: every HTTP request a workflow author aims somewhere goes through ``send``.

A workflow author chooses the URL of an HTTP request step, so the URL must not
reach what only the server can reach (the cloud's metadata service, a database
on the private network, the product itself on 127.0.0.1). The rules:

- only ``http`` and ``https``, no user name or password in the URL;
- the host is resolved once per hop and every address it resolves to must be
  public: loopback, private (RFC 1918, ULA), link-local, multicast, unspecified,
  reserved, shared/CGNAT (100.64.0.0/10) and the cloud metadata addresses
  (``METADATA_ADDRESSES``) are refused, also when embedded in an IPv6
  address (``::ffff:10.0.0.1``, NAT64, 6to4), unless the operator allows the
  network or the host name (``OutboundPolicy.allowed_networks`` / ``allowed_hosts``,
  from HTTP_STEP_ALLOWED_NETWORKS / HTTP_STEP_ALLOWED_HOSTS);
- a cloud metadata address hands out the server's cloud credentials, so no
  broad rule lets it through: neither an allowed host name nor a network wider
  than the one address; only an exact entry (``169.254.169.254/32``) allows it;
- the connection goes to the address that was checked: urllib3 is handed the IP,
  and the original name travels in the Host header, TLS SNI and certificate
  check, so a DNS answer that changes between check and connect (rebinding)
  changes nothing;
- redirects are followed by hand, at most ``max_redirects``, each hop checked
  again; a redirect to another origin drops the credential's headers;
- connect and read timeouts, a deadline for the whole exchange (a watchdog shuts
  the socket when it passes, also while the status line and headers trickle
  in), and a cap on the response body, read as a stream: nothing past the cap
  is read;
- a header http.client cannot send (a value outside Latin-1, a line break)
  is refused, nothing sent.

Every refusal is an ``OutboundRefused`` whose message names the rule and the
setting that lifts it. No maintained library covers both rebinding and per-hop
redirect checks (``advocate`` is unmaintained), hence this small module on urllib3.

This module knows nothing of Django: the policy is passed in.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError

from stripe_connector.errors import APIConnectionError, StripeError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

NETWORKS_SETTING = "HTTP_STEP_ALLOWED_NETWORKS"
HOSTS_SETTING = "HTTP_STEP_ALLOWED_HOSTS"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# The cloud metadata services: AWS, GCP, Azure, OpenStack, Oracle (169.254.169.254),
# AWS on IPv6 (fd00:ec2::254), AWS ECS task credentials (169.254.170.2), EKS Pod
# Identity (169.254.170.23, fd00:ec2::23), Alibaba Cloud (100.100.100.200).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
        "100.100.100.200",
    )
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 shared address space
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4
CHUNK_BYTES = 64 * 1024


class OutboundRefused(StripeError):
    """The guard refused the request; nothing was sent. Never retryable.

    ``type`` is ``outbound_refused``; the message names the rule, e.g.
    ``refused: 10.0.0.5 is a private address (unless HTTP_STEP_ALLOWED_NETWORKS allows it)``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, type="outbound_refused", retryable=False)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class OutboundPolicy:
    """What the guard allows; seconds for timeouts, bytes for the body cap.

    ``allowed_hosts`` are exact host names (lower case) whose addresses are not
    checked (they are still resolved once and connected to as resolved), except
    that none may be a cloud metadata address.
    """

    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()
    max_redirects: int = 3
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_response_bytes: int = 1_000_000
    resolver: Resolver = field(default=system_resolve, compare=False)

    @classmethod
    def from_lists(
        cls, networks: Iterable[str] = (), hosts: Iterable[str] = (), **options
    ) -> OutboundPolicy:
        """A policy from the settings' lists; ValueError names a malformed network."""
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{NETWORKS_SETTING}: {text!r} is not a network (e.g. 10.0.0.0/8, ::1/128)."
                ) from None
        names = frozenset(host.strip().lower().rstrip(".") for host in hosts if host.strip())
        return cls(allowed_networks=tuple(parsed), allowed_hosts=names, **options)


def _unmasked(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class OutboundResponse:
    """An answer: status, headers (lower-case names), body bytes up to the cap.

    ``truncated`` says the body went on past ``max_response_bytes`` (not read);
    ``url`` is the last hop's URL. ``mask`` is applied to whatever is recorded
    from the answer once it is decoded (text, or JSON values: dicts, lists,
    strings); the sender sets it to hide its secrets (``connections.outbound``),
    it changes nothing otherwise.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    url: str
    mask: Callable[[Any], Any] = field(default=_unmasked, compare=False, repr=False)


def metadata_address(ip: IPAddress) -> IPAddress | None:
    """The cloud metadata address ``ip`` is or embeds (``::ffff:169.254.169.254``), else None."""
    if ip in METADATA_ADDRESSES:
        return ip
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded in METADATA_ADDRESSES:
            return embedded
    return None


def address_problem(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is ("a private address"), or None when public."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = address_problem(embedded)
            return f"{inner} (embedded in IPv6)" if inner else None
    checks = (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.version == 4 and ip in CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((name for failed, name in checks if failed), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 address, else None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def check_address(ip: IPAddress, policy: OutboundPolicy, host: str = "") -> None:
    """Raise OutboundRefused unless ``ip`` is public or in an allowed network.

    A cloud metadata address passes only when HTTP_STEP_ALLOWED_NETWORKS lists
    exactly it (``169.254.169.254/32``, ``fd00:ec2::254/128``): ``0.0.0.0/0`` or
    ``169.254.0.0/16`` do not let it through.
    """
    via = f" ({host} resolves to it)" if host and host != str(ip) else ""
    if metadata_address(ip) is not None:
        check_metadata(ip, policy, via)
        return
    if any(ip.version == net.version and ip in net for net in policy.allowed_networks):
        return
    problem = address_problem(ip)
    if problem is None:
        return
    raise OutboundRefused(f"refused: {ip} is {problem}{via} (unless {NETWORKS_SETTING} allows it).")


def check_metadata(ip: IPAddress, policy: OutboundPolicy, via: str = "") -> None:
    """Refuse a cloud metadata address unless an allowed network is exactly that address."""
    if metadata_address(ip) is None:
        return
    exact = ipaddress.ip_network(ip)
    if exact in policy.allowed_networks:
        return
    raise OutboundRefused(
        f"refused: {ip} is a cloud metadata address{via}; only {exact} itself in "
        f"{NETWORKS_SETTING} allows it (an allowed host or a wider network does not)."
    )


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL, lower case, without brackets
    port: int
    path: str  # path and query, as sent
    address: str  # the checked IP the connection goes to

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str, policy: OutboundPolicy) -> _Target:
    """Check ``url``, resolve its host once, check every address; the target to connect to.

    Raises OutboundRefused naming the rule; a name that does not resolve is an
    APIConnectionError (retryable: DNS may answer later).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"refused: the URL is malformed ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"refused: scheme {scheme or '(none)'!r} is not http or https.")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused(
            "refused: the URL carries a user name or password; use a credential instead."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused("refused: the URL has no host.")
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    address = _resolve_checked(host, port, policy)
    return _Target(scheme, host, port, path, address)


def _resolve_checked(host: str, port: int, policy: OutboundPolicy) -> str:
    """Resolve once; every answer must pass (an allowed host name passes as such)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        answers = [str(literal)]
    else:
        try:
            answers = policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise APIConnectionError(f"Could not resolve {host}: {exc}", retryable=True) from None
        if not answers:
            raise APIConnectionError(f"Could not resolve {host}: no address.", retryable=True)
    for answer in answers:
        ip = ipaddress.ip_address(answer.split("%")[0])
        if host in policy.allowed_hosts:
            check_metadata(ip, policy, f" ({host} resolves to it)")
        else:
            check_address(ip, policy, host)
    return answers[0]


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    policy: OutboundPolicy,
    secret_headers: Iterable[str] = (),
) -> OutboundResponse:
    """Send one request through the guard; follow up to ``policy.max_redirects`` redirects.

    ``secret_headers`` (names) are dropped when a redirect leaves the first
    origin. 303, and 301/302 after a POST, continue as GET without a body, as
    browsers do. Raises OutboundRefused (a rule, nothing sent to that hop) or
    APIConnectionError (network problem, timeout; retryable except TLS errors).
    """
    deadline = time.monotonic() + policy.total_timeout
    secret = {name.lower() for name in secret_headers}
    sent_headers = dict(headers)
    target = check_url(url, policy)
    first_origin = target.origin
    for hop in range(policy.max_redirects + 1):
        if time.monotonic() > deadline:
            raise _late("The redirects")
        late = "The redirects" if hop else "The answer"
        response = _exchange(method, target, sent_headers, body, policy, deadline, late)
        location = response.headers.get("location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        if hop == policy.max_redirects:
            raise OutboundRefused(
                f"refused: more than {policy.max_redirects} redirects (the last to {location})."
            )
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = ("GET" if method != "HEAD" else "HEAD"), None
            sent_headers = {
                name: value
                for name, value in sent_headers.items()
                if name.lower() not in ("content-type", "content-length")
            }
        next_url = urljoin(response.url, location)
        target = check_url(next_url, policy)
        if target.origin != first_origin:
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in secret}
    raise AssertionError("unreachable")  # pragma: no cover


class _Watchdog:
    """Shuts the exchange's socket down when the deadline passes.

    Socket timeouts bound each read, not the exchange: an answer whose status
    line and headers arrive a byte at a time would hold the request for as long
    as it likes. Shutting the socket down ends any read under way at once.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _watched(connection_class: type, watchdog: _Watchdog) -> type:
    """``connection_class`` whose new sockets the watchdog may shut down."""

    class Watched(connection_class):
        def _new_conn(self):
            sock = super()._new_conn()
            watchdog.watch(sock)
            return sock

    return Watched


def _pool(
    target: _Target, policy: OutboundPolicy, watchdog: _Watchdog
) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to the checked address; TLS names the original host."""
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, maxsize=1, retries=False
        )
    pool.ConnectionCls = _watched(pool.ConnectionCls, watchdog)
    return pool


def _exchange(
    method: str,
    target: _Target,
    headers: Mapping[str, str],
    body: bytes | None,
    policy: OutboundPolicy,
    deadline: float,
    late: str = "The answer",
) -> OutboundResponse:
    """One request to one checked target; the body read up to the cap and the deadline.

    The deadline covers the whole exchange (connect, status line, headers, body).
    """
    url = f"{target.scheme}://{target.host_header}{target.path}"
    with _Watchdog(deadline - time.monotonic()) as watchdog:
        pool = _pool(target, policy, watchdog)
        try:
            response = _urlopen(method, url, target, headers, body, policy, deadline, pool)
        except APIConnectionError:
            if watchdog.fired:
                raise _late(late) from None
            raise
        finally:
            pool.close()
    if watchdog.fired:  # a shut socket reads as the answer's end: the answer is cut short
        raise _late(late)
    return response


def _late(what: str = "The answer") -> APIConnectionError:
    return APIConnectionError(
        f"{what} took longer than the request's deadline to arrive.", retryable=True
    )


def _urlopen(
    method: str,
    url: str,
    target: _Target,
    headers: Mapping[str, str],
    body: bytes | None,
    policy: OutboundPolicy,
    deadline: float,
    pool: urllib3.HTTPConnectionPool,
) -> OutboundResponse:
    try:
        raw = pool.urlopen(
            method,
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            content, truncated = _read_capped(raw, policy.max_response_bytes, deadline)
            answer_headers = {name.lower(): value for name, value in raw.headers.items()}
            return OutboundResponse(raw.status, answer_headers, content, truncated, url)
        finally:
            raw.release_conn()
            raw.close()
    except Urllib3SSLError as exc:
        raise APIConnectionError(f"TLS failed with {target.host}: {exc}") from None
    except (Urllib3Error, OSError) as exc:
        raise APIConnectionError(
            f"{method} {url} failed: {type(exc).__name__}: {exc}", retryable=True
        ) from None
    except ValueError as exc:
        # http.client refuses a header it cannot send (UnicodeEncodeError for a
        # value outside Latin-1, ValueError for a line break); its message may
        # quote the value, a credential's secret perhaps, so it is not repeated.
        raise OutboundRefused(
            f"refused: a request header could not be sent ({type(exc).__name__}): header "
            "values must be Latin-1 text without line breaks. Nothing was sent."
        ) from None


def _read_capped(raw, cap: int, deadline: float) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes (one more tells it was longer); stop at the deadline."""
    chunks: list[bytes] = []
    size = 0
    # read1: whatever has arrived, so a trickling answer meets the deadline check often.
    while chunk := raw.read1(CHUNK_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], True
        if time.monotonic() > deadline:
            raise _late()
    return b"".join(chunks), False


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number or an HTTP date); None when absent."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
