"""The localstripe stand-in answers every request with a Request-Id, as Stripe does."""

import re
import sys

import pytest
import requests

from tests.e2e.stack import SECRET_KEY, Service, free_port

REQUEST_ID = re.compile(r"^req_[A-Za-z0-9]{14}$")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path_factory.mktemp("standin") / "state.pickle"
    service = Service(
        "localstripe-request-id",
        [sys.executable, "-m", "standins.localstripe_server", "--port", str(port),
         "--state-file", str(state)],
        ready_url=f"{url}/v1/account",
    )  # fmt: skip
    service.start()
    try:
        yield url
    finally:
        service.stop()


def test_every_answer_carries_its_own_stripe_shaped_request_id(standin):
    auth = (SECRET_KEY, "")
    answers = [
        requests.get(f"{standin}/v1/account", auth=auth, timeout=10),
        requests.post(f"{standin}/v1/customers", {"email": "a@example.com"}, auth=auth, timeout=10),
        requests.get(f"{standin}/v1/customers/cus_Missing", auth=auth, timeout=10),
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 404]
    ids = [answer.headers.get("Request-Id", "") for answer in answers]
    assert all(REQUEST_ID.match(value) for value in ids), ids
    assert len(set(ids)) == 3


def test_a_replayed_idempotent_post_gets_a_request_id_too(standin):
    auth, headers = (SECRET_KEY, ""), {"Idempotency-Key": "request-id-replay"}
    first, second = (
        requests.post(f"{standin}/v1/customers", {"email": "b@example.com"},
                      auth=auth, headers=headers, timeout=10)
        for _ in range(2)
    )  # fmt: skip

    assert first.json()["id"] == second.json()["id"]
    assert REQUEST_ID.match(second.headers.get("Request-Id", ""))
