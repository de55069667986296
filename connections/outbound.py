"""Sending HTTP request steps: the guard's policy from settings, credentials added at send time.

``HttpClient`` is what the HTTP action sends with (``stripe_connector.catalog.http``):
it looks the step's credential up by name, adds its header(s) and, when the
credential has a signing secret, a ``Konnectify-Signature`` header, then sends
through the outbound guard (``stripe_connector.outbound.send``). Whatever comes
back (answer and errors) has the credential's secrets masked, so a receiver that
echoes the Authorization header cannot put the secret into a run's output.

    client = HttpClient(user=workflow_owner)   # user=None: the operator, not checked
    action.run(client, data, idempotency_key=key)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError

from connections.credentials import SIGNATURE_HEADER, Credential
from connections.masking import MASK, Masker
from connections.permissions import can_use_credential, credential_refusal
from stripe_connector.catalog.http import is_http_action
from stripe_connector.errors import ActionInputError, StripeError
from stripe_connector.outbound import OutboundPolicy, OutboundRefused, OutboundResponse, send
from stripe_connector.signature import sign_payload

if TYPE_CHECKING:
    from connections.models import Connection
    from stripe_connector.catalog import Action

TEMPLATE_MARKS = ("{{", "{%", "{#")
CREDENTIAL_LITERAL = (
    "must be a credential's name as written, not a reference: the data of an event must "
    "not choose which secret is sent."
)


def is_reference(value) -> bool:
    """Whether ``value`` (a step's mapped field) is a template rather than literal text."""
    return isinstance(value, str) and any(mark in value for mark in TEMPLATE_MARKS)


def refuse_credential_reference(input_mapping) -> None:
    """ActionInputError on ``credential`` when a step's mapping names it by a reference.

    Checked at save (``workflows.services.check_credential_literal``) and by the engine
    before rendering, for steps saved before the rule: a reference would let whoever
    controls the event's data choose which secret is sent.
    """
    if isinstance(input_mapping, dict) and is_reference(input_mapping.get("credential")):
        raise ActionInputError([{"field": "credential", "message": CREDENTIAL_LITERAL}])


def policy_from_settings() -> OutboundPolicy:
    """The guard's policy: HTTP_STEP_ALLOWED_NETWORKS, HTTP_STEP_ALLOWED_HOSTS and limits."""
    return OutboundPolicy.from_lists(
        settings.HTTP_STEP_ALLOWED_NETWORKS,
        settings.HTTP_STEP_ALLOWED_HOSTS,
        connect_timeout=float(settings.HTTP_STEP_CONNECT_TIMEOUT),
        read_timeout=float(settings.HTTP_STEP_READ_TIMEOUT),
    )


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``: Stripe's webhook signature scheme.

    A receiver verifies it as it verifies Stripe's ``Stripe-Signature``
    (e.g. ``stripe.WebhookSignature.verify_header``), with the signing secret.
    """
    return sign_payload(body, secret, timestamp)


class HttpClient:
    """Sends one HTTP request step through the guard, with its credential.

    ``user`` is who the request is sent for: None is the operator (management
    commands, workflows set up without owner), not checked; otherwise they must
    hold ``connections.use_credential`` (``permissions.can_use_credential``) to
    use a credential, or the request is refused before anything is sent.
    """

    def __init__(
        self,
        *,
        user=None,
        check_user: bool = False,
        policy: OutboundPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user = user
        self.check_user = check_user or user is not None
        self.policy = policy or policy_from_settings()
        self.clock = clock

    def credential(self, name: str) -> Credential:
        """The credential ``name``, if ``user`` may use it; ActionInputError or StripeError."""
        credential = Credential.objects.filter(name=name).first()
        if credential is None:
            raise ActionInputError(
                [{"field": "credential", "message": f"no credential named {name!r}"}]
            )
        if self.check_user and not can_use_credential(self.user, credential):
            raise StripeError(
                credential_refusal(self.user or "nobody", name) + " Not sent.",
                type="credential_not_allowed",
            )
        return credential

    def send_http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: bytes | None,
        credential: str | None,
    ) -> OutboundResponse:
        """Add the credential (and signature), send through the guard, mask its secrets.

        The credential is sent only to a host in its ``allowed_hosts``
        (``Credential.require_host``): another host is refused with OutboundRefused
        naming the rule, before anything is sent. A redirect to another origin drops
        the credential's headers and the signature, so on every hop the secret goes
        to the first, allowed, origin only.
        """
        sent = dict(headers)
        secrets: list[str] = []
        secret_headers: list[str] = []
        if credential:
            chosen = self.credential(credential)
            try:
                chosen.require_host(url)
            except ValidationError as exc:
                raise OutboundRefused(" ".join(exc.messages) + " Not sent.") from None
            auth = chosen.auth_headers()
            sent = {k: v for k, v in sent.items() if k.lower() not in {n.lower() for n in auth}}
            sent.update(auth)
            secret_headers = list(auth)
            secrets = chosen.secret_values()
            if chosen.signing_secret:
                sent[SIGNATURE_HEADER] = sign(body or b"", chosen.signing_secret, int(self.clock()))
                # The signature vouches for this body to the first origin only.
                secret_headers.append(SIGNATURE_HEADER)
        try:
            response = send(
                method,
                url,
                headers=sent,
                body=body,
                policy=self.policy,
                secret_headers=secret_headers,
            )
        except StripeError as exc:
            raise masked_error(exc, secrets) from None
        return masked_response(response, secrets)


def mask(text: str, secrets: list[str]) -> str:
    """``text`` with every secret, as written or encoded, replaced (``masking.Masker``)."""
    return Masker(secrets)(text)


def masked_response(response: OutboundResponse, secrets: list[str]) -> OutboundResponse:
    """The answer with every secret replaced by ``[redacted]``: headers and body bytes now,
    and whatever is recorded once the body is decoded (``OutboundResponse.mask``, applied
    by the HTTP action to the step's output and error), where JSON escapes, another charset,
    percent-encoding or base64 no longer hide it (``connections.masking``)."""
    if not secrets:
        return response
    masker = Masker(secrets)
    body = response.body
    for secret in secrets:
        body = body.replace(secret.encode(), MASK.encode())
    headers = {name: masker(value) for name, value in response.headers.items()}
    return dataclasses.replace(response, body=body, headers=headers, mask=masker)


def masked_error(exc: StripeError, secrets: list[str]) -> StripeError:
    """The same error with any secret in its message masked (encoded forms too)."""
    message = mask(exc.message, secrets) if secrets else exc.message
    if message == exc.message:
        return exc
    if isinstance(exc, OutboundRefused):
        return OutboundRefused(message)
    return type(exc)(
        message,
        http_status=exc.http_status,
        type=exc.type,
        code=exc.code,
        param=exc.param,
        request_id=exc.request_id,
        retryable=exc.retryable,
        retry_after=exc.retry_after,
    )


def client_for(action: Action, connection: Connection, *, user=None, operator: bool = False):
    """What ``action`` sends with: the connection's Stripe client, or an ``HttpClient``.

    Every entry point asks here (the engine, Test a step, the API's execute, the
    ``stripe_action`` command). An HTTP request step sends for ``user``, who must hold
    ``connections.use_credential`` to use a credential; ``operator=True`` (management
    commands, workflows without owner) is not checked, as for connections.
    """
    if is_http_action(action):
        return HttpClient(user=user, check_user=not operator)
    return connection.client()
