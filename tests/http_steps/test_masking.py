"""Echoed secrets are masked after the answer is decoded, whatever the encoding on the wire."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from connections.credentials import Credential
from connections.masking import MASK, Masker
from connections.outbound import HttpClient
from stripe_connector.catalog import get_action
from stripe_connector.errors import StripeError
from tests.http_steps import test_engine_http as engine_tests
from tests.http_steps.server import Answer
from tests.support.factories import make_workflow
from workflows.models import RunStatus

pytestmark = pytest.mark.django_db

connection = engine_tests.connection
crm = engine_tests.crm
run_on = engine_tests.run_on
sync_tasks = engine_tests.sync_tasks

ACTION = get_action("http_request")
# A token with the characters JSON, URL and base64 encoders change.
TOKEN = "tok/live+crm=9f8e7d6c5b4a3928&17<06>"
PASSWORD = "pw/basic+Secret=0123456789"
PREFIX = "debug: "


def json_slashes(header: str) -> Answer:
    """PHP's json_encode: ``/`` written ``\\/``."""
    return Answer(body=json.dumps({"got": header}).replace("/", "\\/").encode())


def json_unicode(header: str) -> Answer:
    """Every character as a ``\\uXXXX`` escape (Go writes &, <, > so)."""
    escaped = "".join(f"\\u{ord(char):04X}" for char in header)
    return Answer(body=b'{"got": "' + escaped.encode() + b'"}')


def utf16_named(header: str) -> Answer:
    return Answer(
        headers={"Content-Type": "text/plain; charset=utf-16"}, body=header.encode("utf-16")
    )


def utf16_unnamed(header: str) -> Answer:
    """UTF-16 without a charset: read as UTF-8, a NUL between the letters."""
    return Answer(headers={"Content-Type": "text/plain"}, body=header.encode("utf-16-le"))


def percent(header: str) -> Answer:
    return Answer(headers={"Content-Type": "text/plain"}, body=quote(header, safe="").encode())


def form_lower(header: str) -> Answer:
    return Answer(
        headers={"Content-Type": "text/plain"}, body=quote_plus(header, safe="").lower().encode()
    )


def base64_echo(header: str) -> Answer:
    """The header inside the base64 of a longer text."""
    return Answer(
        headers={"Content-Type": "text/plain"},
        body=base64.b64encode((PREFIX + header).encode()),
    )


def html_entities(header: str) -> Answer:
    return Answer(
        headers={"Content-Type": "text/html"},
        body="".join(f"&#{ord(char)};" for char in header).encode(),
    )


ECHOES = [json_slashes, json_unicode, utf16_named, utf16_unnamed, percent, form_lower,
          base64_echo, html_entities]  # fmt: skip


def readable(text: str) -> str:
    """What a reader makes of a recorded text: NULs dropped, the base64 run decoded."""
    text = text.replace("\x00", "")
    try:
        decoded = base64.b64decode(text + "==", validate=False).decode("utf-8", errors="replace")
    except ValueError:
        decoded = ""
    return text + " " + decoded


def assert_hidden(recorded: str, secret: str) -> None:
    encodings = {
        secret,
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret, safe="").lower(),
        "".join(f"\\u{ord(char):04X}" for char in secret),
        "".join(f"&#{ord(char)};" for char in secret),
    }
    for form in encodings:
        assert form not in readable(recorded), form
    assert MASK in recorded


def send(server, credential: str, client: HttpClient | None = None):
    data = {"method": "POST", "url": f"{server.url}/in", "json_body": {"a": 1},
            "credential": credential}  # fmt: skip
    return ACTION.run(client or HttpClient(), data, idempotency_key="key-1")


@pytest.fixture
def bearer() -> Credential:
    return Credential.objects.create(
        name="svc", kind=Credential.Kind.BEARER, secret=TOKEN, allowed_hosts="127.0.0.1"
    )


@pytest.fixture
def basic() -> Credential:
    return Credential.objects.create(
        name="svc", kind=Credential.Kind.BASIC, username="ops", secret=PASSWORD,
        allowed_hosts="127.0.0.1",
    )  # fmt: skip


@pytest.mark.parametrize("echo", ECHOES)
def test_an_echoed_bearer_token_is_masked_in_the_output(echo, bearer, server, allow_loopback):
    server.answer(lambda request: echo(request.header("Authorization")))
    output = send(server, "svc").output
    assert_hidden(json.dumps(output, ensure_ascii=False), TOKEN)


@pytest.mark.parametrize("echo", ECHOES)
def test_an_echoed_bearer_token_is_masked_in_the_error(echo, bearer, server, allow_loopback):
    def failing(request):
        answer = echo(request.header("Authorization"))
        answer.status = 400
        return answer

    server.answer(failing)
    with pytest.raises(StripeError) as caught:
        send(server, "svc")
    assert_hidden(caught.value.message, TOKEN)
    assert TOKEN not in json.dumps(caught.value.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("echo", [json_slashes, percent, base64_echo])
@pytest.mark.parametrize("part", ["password", "pair"])
def test_basic_auth_password_and_pair_are_masked(echo, part, basic, server, allow_loopback):
    """The password alone, or the base64 ``user:password`` pair the header carries."""

    def answer(request):
        pair = request.header("Authorization").removeprefix("Basic ")
        return echo(PASSWORD if part == "password" else pair)

    server.answer(answer)
    recorded = json.dumps(send(server, "svc").output, ensure_ascii=False)
    pair = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    assert_hidden(recorded, PASSWORD)
    assert pair not in recorded


def test_the_excerpt_is_cut_after_masking(bearer, server, allow_loopback):
    """A secret straddling the excerpt's 500-character cut shows no prefix of itself."""
    body = "x" * 490 + TOKEN
    server.answer(Answer(status=400, headers={"Content-Type": "text/plain"}, body=body.encode()))
    with pytest.raises(StripeError) as caught:
        send(server, "svc")
    assert TOKEN[:10] not in caught.value.message
    assert caught.value.message.endswith(MASK)


def test_a_run_records_no_escaped_secret(connection, crm, server, allow_loopback, run_on):
    """Through the engine: the step's error (and so the run's error and alerts)."""

    def failing(request):
        answer = json_unicode(request.header("Authorization"))
        answer.status = 422
        return answer

    server.answer(failing)
    workflow = make_workflow(
        connection,
        "customer.updated",
        [engine_tests.http_step(server.url, credential="crm")],
    )
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    recorded = engine_tests.recorded(step_run)
    escaped = "".join(f"\\\\u{ord(char):04X}" for char in engine_tests.TOKEN)
    assert engine_tests.TOKEN not in recorded and escaped not in recorded
    assert MASK in step_run.error["message"]


class TestMasker:
    def test_mixed_escapes_within_one_occurrence(self):
        mixed = "tok\\/live%2Bcrm\\u003d9f8e7d6c5b4a3928\\u002617&#60;06&#x3E;"
        assert Masker([TOKEN])(f"before {mixed} after") == f"before {MASK} after"

    def test_data_keys_lists_and_other_values(self):
        masker = Masker([TOKEN])
        value = {TOKEN: [TOKEN, 3, None, {"k": f"Bearer {TOKEN}"}], "n": 1.5}
        assert masker(value) == {MASK: [MASK, 3, None, {"k": f"Bearer {MASK}"}], "n": 1.5}

    def test_base64_at_every_alignment_and_alphabet(self):
        masker = Masker([TOKEN])
        for lead in ("", "a", "ab"):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                encoded = encode((lead + TOKEN + "tail").encode()).decode()
                masked = masker(encoded)
                assert MASK in masked
                # What is left decodes to at most the characters next to the secret.
                assert len(masked.replace(MASK, "")) <= len(encoded) - len(TOKEN) * 4 // 3 + 4

    def test_text_without_the_secret_is_unchanged(self):
        text = "Bearer tok/live+crm= 9f8e7d6c5b4a3928 &#38; %2F \\u0041 dG9rL2xpdmU="
        assert Masker([TOKEN])(text) == text
        assert Masker([])(text) == text
