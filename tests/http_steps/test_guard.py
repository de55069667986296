"""The outbound guard: what it refuses, where it connects, redirects, caps and timeouts."""

from __future__ import annotations

import ipaddress
import re
import time

import pytest

from stripe_connector.errors import APIConnectionError
from stripe_connector.outbound import OutboundPolicy, OutboundRefused, address_problem, send
from tests.http_steps.server import Answer

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.5.5.5", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.5", "a private address"),
    ("172.16.3.4", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private address"),  # ULA
    ("169.254.10.10", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("0.0.0.0", "the unspecified address"),
    ("::", "the unspecified address"),
    ("240.0.0.1", "a reserved address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("169.254.169.254", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("::ffff:10.0.0.1", "a private address (embedded in IPv6)"),
    ("64:ff9b::7f00:1", "a loopback address (embedded in IPv6)"),
    ("2002:a00:1::", "a private address (embedded in IPv6)"),  # 6to4 of 10.0.0.1
    ("192.0.2.10", "a private address"),  # documentation (TEST-NET-1)
]


def resolver_from(answers: dict[str, list[list[str]]]):
    """A resolver answering each call for a name with the next list of addresses."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host].pop(0)

    resolve.calls = calls
    return resolve


def url_for(ip: str) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}/path"


@pytest.mark.parametrize(("ip", "problem"), REFUSED)
def test_every_refused_address_class_is_named_and_nothing_is_sent(ip, problem, connects):
    with pytest.raises(OutboundRefused) as caught:
        send("GET", url_for(ip), headers={}, body=None, policy=OutboundPolicy())
    expected = f"refused: {ipaddress.ip_address(ip)} is {problem}"
    assert str(caught.value.message).startswith(expected)
    assert "HTTP_STEP_ALLOWED_NETWORKS allows it" in caught.value.message
    assert caught.value.retryable is False
    assert caught.value.type == "outbound_refused"
    assert connects == []


@pytest.mark.parametrize("ip", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"])
def test_public_addresses_pass(ip):
    assert address_problem(ipaddress.ip_address(ip)) is None


def test_an_allowed_network_lets_its_addresses_through(connects):
    policy = OutboundPolicy.from_lists(["10.0.0.0/8"])
    with pytest.raises(APIConnectionError):
        send("GET", "http://10.1.2.3:8080/x", headers={}, body=None, policy=policy)
    assert connects == [("10.1.2.3", 8080)]
    with pytest.raises(OutboundRefused):
        send("GET", "http://192.168.0.1/", headers={}, body=None, policy=policy)


def test_a_malformed_allowed_network_names_the_setting():
    with pytest.raises(
        ValueError, match=re.escape("HTTP_STEP_ALLOWED_NETWORKS: 'ten' is not a network")
    ):
        OutboundPolicy.from_lists(["ten"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "scheme 'ftp' is not http or https"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("gopher://example.com/", "scheme 'gopher' is not http or https"),
        ("http://user:pw@example.com/", "carries a user name or password"),
        ("http:///path", "has no host"),
        ("http://example.com:99999/", "malformed"),
    ],
)
def test_only_plain_http_urls(url, message, connects):
    with pytest.raises(OutboundRefused, match=message):
        send("GET", url, headers={}, body=None, policy=OutboundPolicy())
    assert connects == []


def test_a_name_resolving_to_a_private_address_is_refused(connects):
    resolve = resolver_from({"intranet.example.com": [["10.0.0.5"]]})
    with pytest.raises(OutboundRefused) as caught:
        send(
            "GET",
            "https://intranet.example.com/",
            headers={},
            body=None,
            policy=OutboundPolicy(resolver=resolve),
        )
    assert caught.value.message == (
        "refused: 10.0.0.5 is a private address (intranet.example.com resolves to it) "
        "(unless HTTP_STEP_ALLOWED_NETWORKS allows it)."
    )
    assert connects == []


def test_one_private_answer_among_public_ones_is_enough_to_refuse(connects):
    resolve = resolver_from({"mixed.example.com": [["93.184.216.34", "127.0.0.1"]]})
    with pytest.raises(OutboundRefused, match=re.escape("127.0.0.1 is a loopback address")):
        send(
            "GET",
            "http://mixed.example.com/",
            headers={},
            body=None,
            policy=OutboundPolicy(resolver=resolve),
        )
    assert connects == []


def test_dns_rebinding_the_connection_goes_to_the_address_that_was_checked(connects):
    """First answer public, any later answer private: resolved once, connected to the first."""
    resolve = resolver_from({"rebind.example.com": [["93.184.216.34"], ["127.0.0.1"]]})
    with pytest.raises(APIConnectionError):
        send(
            "GET",
            "http://rebind.example.com/",
            headers={},
            body=None,
            policy=OutboundPolicy(resolver=resolve),
        )
    assert resolve.calls == ["rebind.example.com"]
    assert connects == [("93.184.216.34", 80)]


def test_the_original_host_name_travels_in_the_host_header(server):
    resolve = resolver_from({"service.test": [["127.0.0.1"]]})
    policy = OutboundPolicy(allowed_hosts=frozenset({"service.test"}), resolver=resolve)
    response = send(
        "GET",
        f"http://service.test:{server.port}/hello?a=1",
        headers={"X-A": "1"},
        body=None,
        policy=policy,
    )
    assert response.status == 200
    assert server.seen[0].path == "/hello?a=1"
    assert server.seen[0].header("Host") == f"service.test:{server.port}"
    assert server.seen[0].header("X-A") == "1"


def test_https_names_the_original_host_for_sni_and_the_certificate(monkeypatch):
    """The pool connects to the checked IP; TLS gets the name (SNI and certificate check)."""
    import urllib3

    made = {}

    class Pool:
        ConnectionCls = object

        def __init__(self, host, port, **kwargs):
            made.update(host=host, port=port, **kwargs)

        def urlopen(self, *args, **kwargs):
            raise OSError("not connecting in this test")

        def close(self):
            pass

    monkeypatch.setattr(urllib3, "HTTPSConnectionPool", Pool)
    resolve = resolver_from({"api.example.com": [["93.184.216.34"]]})
    with pytest.raises(APIConnectionError):
        send(
            "GET",
            "https://api.example.com/",
            headers={},
            body=None,
            policy=OutboundPolicy(resolver=resolve),
        )
    assert made["host"] == "93.184.216.34"
    assert made["server_hostname"] == "api.example.com"
    assert made["assert_hostname"] == "api.example.com"
    assert made["cert_reqs"] == "CERT_REQUIRED"


def loopback_name_policy(**options) -> OutboundPolicy:
    """service.test and other.test are the test server, allowed by name; 127.0.0.1 is not."""

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    return OutboundPolicy(
        allowed_hosts=frozenset({"service.test", "other.test"}), resolver=resolve, **options
    )


def test_a_redirect_to_a_refused_address_is_refused(server):
    server.answer(Answer(status=302, headers={"Location": f"http://127.0.0.1:{server.port}/in"}))
    with pytest.raises(
        OutboundRefused, match=re.escape("refused: 127.0.0.1 is a loopback address")
    ):
        send(
            "GET",
            f"http://service.test:{server.port}/start",
            headers={},
            body=None,
            policy=loopback_name_policy(),
        )
    assert [seen.path for seen in server.seen] == ["/start"]


def test_a_redirect_to_the_metadata_service_is_refused(server):
    server.answer(Answer(status=307, headers={"Location": "http://169.254.169.254/latest/"}))
    with pytest.raises(
        OutboundRefused, match=re.escape("169.254.169.254 is a cloud metadata address")
    ):
        send(
            "GET",
            f"http://service.test:{server.port}/",
            headers={},
            body=None,
            policy=loopback_name_policy(),
        )
    assert len(server.seen) == 1


def test_redirects_are_limited(server):
    loop = Answer(status=302, headers={"Location": "/again"})
    server.answer(*[loop] * 10)
    with pytest.raises(OutboundRefused, match=re.escape("more than 3 redirects")):
        send(
            "GET",
            f"http://service.test:{server.port}/",
            headers={},
            body=None,
            policy=loopback_name_policy(),
        )
    assert len(server.seen) == 4  # the request and 3 redirects


def test_a_redirect_to_another_origin_drops_the_secret_headers(server):
    server.answer(
        Answer(status=303, headers={"Location": f"http://other.test:{server.port}/done"}),
    )
    response = send(
        "POST",
        f"http://service.test:{server.port}/submit",
        headers={"Authorization": "Bearer tok_secret", "Content-Type": "application/json"},
        body=b"{}",
        policy=loopback_name_policy(),
        secret_headers=["Authorization"],
    )
    assert response.status == 200
    first, second = server.seen
    assert (first.method, first.header("Authorization")) == ("POST", "Bearer tok_secret")
    assert (second.method, second.path, second.body) == ("GET", "/done", b"")
    assert second.header("Authorization") is None
    assert second.header("Host") == f"other.test:{server.port}"
    assert response.url == f"http://other.test:{server.port}/done"


def test_a_same_origin_307_keeps_method_body_and_credential(server):
    server.answer(Answer(status=307, headers={"Location": "/moved"}))
    send(
        "POST",
        f"http://service.test:{server.port}/a",
        headers={"Authorization": "Bearer t"},
        body=b"payload",
        policy=loopback_name_policy(),
        secret_headers=["Authorization"],
    )
    second = server.seen[1]
    assert (second.method, second.body, second.header("Authorization")) == (
        "POST",
        b"payload",
        "Bearer t",
    )


def test_the_body_is_read_up_to_the_cap_and_no_further(server):
    server.answer(Answer(headers={"Content-Type": "text/plain"}, body=b"x" * 2_000_000))
    response = send(
        "GET",
        f"http://service.test:{server.port}/big",
        headers={},
        body=None,
        policy=loopback_name_policy(max_response_bytes=1000),
    )
    assert response.truncated is True
    assert response.body == b"x" * 1000


def test_a_slow_answer_times_out_as_a_retryable_network_error(server):
    server.answer(Answer(delay=1.5))
    with pytest.raises(APIConnectionError) as caught:
        send(
            "GET",
            f"http://service.test:{server.port}/slow",
            headers={},
            body=None,
            policy=loopback_name_policy(read_timeout=0.3),
        )
    assert caught.value.retryable is True
    assert "ReadTimeout" in caught.value.message


def test_a_trickling_answer_stops_at_the_deadline(server):
    """Each byte comes within the read timeout; the whole answer would not come in time."""
    server.answer(Answer(body=b"x" * 40, drip=0.1))
    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="deadline") as caught:
        send("GET", f"http://service.test:{server.port}/drip", headers={}, body=None,
             policy=loopback_name_policy(read_timeout=1, total_timeout=0.5))  # fmt: skip
    assert time.monotonic() - started < 2
    assert caught.value.retryable is True


def test_slow_redirects_stop_at_the_deadline(server):
    slow = Answer(status=302, headers={"Location": "/next"}, body=b"", delay=0.4)
    server.answer(slow, slow)
    with pytest.raises(APIConnectionError, match="redirects took longer"):
        send("GET", f"http://service.test:{server.port}/", headers={}, body=None,
             policy=loopback_name_policy(total_timeout=0.5))  # fmt: skip
    assert len(server.seen) == 2


def test_a_name_that_does_not_resolve_is_a_retryable_network_error():
    def resolve(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(APIConnectionError, match=re.escape("Could not resolve nowhere.example")):
        send(
            "GET",
            "http://nowhere.example/",
            headers={},
            body=None,
            policy=OutboundPolicy(resolver=resolve),
        )
