"""Cloud metadata addresses: refused unless the operator lists exactly that address."""

from __future__ import annotations

import pytest

from stripe_connector.errors import APIConnectionError
from stripe_connector.outbound import METADATA_ADDRESSES, OutboundPolicy, OutboundRefused, send

METADATA = sorted(str(ip) for ip in METADATA_ADDRESSES)


def resolving_to(address: str):
    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", address]  # one public answer does not excuse the other

    return resolve


def url_for(ip: str, port: int = 80) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}/latest/meta-data/"


@pytest.mark.parametrize("ip", METADATA)
@pytest.mark.parametrize("port", [80, 2375])
def test_an_allowed_host_resolving_to_a_metadata_address_is_refused(ip, port, connects):
    policy = OutboundPolicy.from_lists(hosts=["crm.internal"])
    policy = OutboundPolicy(allowed_hosts=policy.allowed_hosts, resolver=resolving_to(ip))
    with pytest.raises(OutboundRefused) as caught:
        send("GET", f"http://crm.internal:{port}/x", headers={}, body=None, policy=policy)
    assert f"{ip} is a cloud metadata address (crm.internal resolves to it)" in (
        caught.value.message
    )
    assert "HTTP_STEP_ALLOWED_NETWORKS" in caught.value.message
    assert connects == []


@pytest.mark.parametrize(
    ("networks", "ip"),
    [
        (["0.0.0.0/0"], "169.254.169.254"),
        (["169.254.0.0/16"], "169.254.169.254"),
        (["169.254.169.0/24", "169.254.170.0/24"], "169.254.170.2"),
        (["::/0"], "fd00:ec2::254"),
        (["fd00::/8"], "fd00:ec2::23"),
        (["::/0"], "::ffff:169.254.169.254"),
        (["100.64.0.0/10"], "100.100.100.200"),
    ],
)
def test_a_wider_allowed_network_does_not_let_a_metadata_address_through(networks, ip, connects):
    policy = OutboundPolicy.from_lists(networks)
    with pytest.raises(OutboundRefused, match="is a cloud metadata address"):
        send("GET", url_for(ip), headers={}, body=None, policy=policy)
    assert connects == []


@pytest.mark.parametrize("ip", METADATA)
def test_the_exact_address_in_allowed_networks_lets_it_through(ip, connects):
    exact = f"{ip}/{128 if ':' in ip else 32}"
    policy = OutboundPolicy.from_lists([exact])
    with pytest.raises(APIConnectionError):  # the connection is recorded, not made
        send("GET", url_for(ip), headers={}, body=None, policy=policy)
    assert connects == [(ip, 80)]


def test_a_wider_network_still_allows_its_other_addresses(connects):
    policy = OutboundPolicy.from_lists(["169.254.0.0/16"])
    with pytest.raises(APIConnectionError):
        send("GET", url_for("169.254.10.10"), headers={}, body=None, policy=policy)
    assert connects == [("169.254.10.10", 80)]
