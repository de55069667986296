"""The building blocks of the catalog: Trigger, Action, ActionResult and the generic run.

An action is data: key, label, Stripe method and path, input schema. Most
actions need no code at all: ``send`` fills the path parameters from the input
and sends the rest to Stripe. Only actions with real logic (Find Customer by
email, Find Subscription by ``si_`` id, ...) name a ``handler``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jsonschema import ValidationError

from stripe_connector.catalog import schema as s
from stripe_connector.catalog.values import (
    CONTROL_CHARACTERS,
    Validator,
    field_schema,
    fractional_text,
    prepare,
    unsendable,
)
from stripe_connector.errors import ActionInputError, InvalidRequestError, StripeError

if TYPE_CHECKING:
    from stripe_connector.client import StripeClient

# A handler does the HTTP part of an action whose input has already been validated.
Handler = Callable[["Action", "StripeClient", dict[str, Any], "str | None"], "ActionResult"]
# A rule checks what JSON Schema says badly (e.g. "exactly one of id or email");
# it returns errors shaped like ActionInputError's: {"field": ..., "message": ...}.
Rule = Callable[[dict[str, Any]], list[dict[str, str]]]

_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class ActionResult:
    """What an action produced: ``output`` is JSON-safe and what later steps reference."""

    output: dict[str, Any]
    request_id: str | None = None


@dataclass(frozen=True, eq=False)
class Trigger:
    """A Stripe webhook event a workflow can start from (``key`` is the event type)."""

    key: str
    label: str
    group: str
    description: str
    event_type: str | None
    sample: dict[str, Any] = field(repr=False)

    def sample_event(self, custom_event_type: str | None = None) -> dict[str, Any]:
        """A copy of the sample, safe to change; the custom trigger takes the typed type."""
        event = copy.deepcopy(self.sample)
        if self.event_type is None and custom_event_type:
            event["type"] = custom_event_type
        return event

    def to_dict(self, *, include_sample: bool = False) -> dict[str, Any]:
        """JSON-safe description for the CLI and the API."""
        data = {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "description": self.description,
            "event_type": self.event_type,
        }
        if include_sample:
            data["sample"] = self.sample_event()
        return data


@dataclass(frozen=True, eq=False)
class Action:
    """A Stripe API operation a workflow step can run.

    ``fixed_params`` are always sent (Archive Price sends ``active=false``);
    ``rules`` add cross-field checks to the JSON Schema; ``call_note`` tells
    where a handler calls something else than ``method path``.
    """

    key: str
    label: str
    group: str
    description: str
    method: str
    path: str
    input_schema: dict[str, Any] = field(repr=False)
    handler: Handler | None = field(default=None, repr=False)
    mutates: bool = True
    fixed_params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    rules: tuple[Rule, ...] = field(default=(), repr=False)
    call_note: str = ""

    @property
    def call(self) -> str:
        """The Stripe call as people write it: ``POST /v1/customers/{id}`` (plus a note)."""
        note = f" ({self.call_note})" if self.call_note else ""
        return f"{self.method} {self.path}{note}"

    def validate(self, input: dict[str, Any]) -> dict[str, Any]:
        """Convert ``input`` as Stripe reads it, check it; return what will be sent.

        Every entry point (workflow steps, Test a step, the API, ``stripe_action``)
        goes through here. ``None`` means "not given" (a field mapping that
        rendered nothing), as in the encoder, which leaves ``None`` out. Values
        are converted by ``values.prepare`` (numbers as text in text fields, an
        expanded object's id, ``""`` to clear), then checked against the schema,
        the form encoding and the rules. Raises ActionInputError naming every
        offending field; nothing is sent then.
        """
        if not isinstance(input, Mapping):
            raise ActionInputError([{"field": "", "message": "the input must be an object"}])
        cleaned = prepare(self.input_schema, _drop_none(dict(input)))
        errors = schema_errors(self.input_schema, cleaned) or encoding_errors(cleaned)
        if not errors:
            errors = [error for rule in self.rules for error in rule(cleaned)]
        if errors:
            raise ActionInputError(errors)
        return cleaned

    def run(
        self,
        client: StripeClient,
        input: dict[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Validate, then call Stripe; nothing is sent when the input is invalid."""
        return self.send_validated(client, self.validate(input), idempotency_key=idempotency_key)

    def send_validated(
        self,
        client: StripeClient,
        data: dict[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call Stripe with ``data`` exactly as ``validate`` returned it (not checked again).

        For a caller that validates first on its own (the workflow engine, which
        checks the input before it takes the connection's key).
        """
        return (self.handler or send)(self, client, data, idempotency_key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (with the input schema) for the CLI and the API."""
        return {
            "key": self.key,
            "label": self.label,
            "group": self.group,
            "description": self.description,
            "method": self.method,
            "path": self.path,
            "call": self.call,
            "mutates": self.mutates,
            "input_schema": copy.deepcopy(self.input_schema),
        }


def send(
    action: Action, client: StripeClient, data: dict[str, Any], idempotency_key: str | None
) -> ActionResult:
    """The generic run: path parameters from the input, the rest (plus fixed params) as params."""
    path, params = fill_path(action.path, data)
    params.update(action.fixed_params)
    return call(client, action.method, path, params, idempotency_key)


def call(
    client: StripeClient,
    method: str,
    path: str,
    params: dict[str, Any],
    idempotency_key: str | None,
) -> ActionResult:
    """One Stripe request; the idempotency key only matters (and is only sent) on POST."""
    key = idempotency_key if method == "POST" else None
    response = client.request(method, path, params or None, idempotency_key=key)
    return ActionResult(output=response.data, request_id=response.request_id)


def fill_path(template: str, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Put ``data``'s values into ``{name}`` placeholders; return the path and what is left.

    Values are percent-encoded: user-chosen ids (coupons, products) may hold
    any character, and a ``/`` must never reach another endpoint.
    """
    names = _PATH_PARAM.findall(template)
    path = _PATH_PARAM.sub(lambda m: quote(str(data[m.group(1)]), safe=""), template)
    return path, {key: value for key, value in data.items() if key not in names}


def with_hint(err: StripeError, hint: str) -> StripeError:
    """The same Stripe error (same class and fields) with a hint added to its message."""
    return type(err)(
        f"{err.message} {hint}",
        http_status=err.http_status,
        type=err.type,
        code=err.code,
        param=err.param,
        decline_code=err.decline_code,
        request_id=err.request_id,
        retryable=err.retryable,
        retry_after=err.retry_after,
    )


class ObjectNotFound(InvalidRequestError):
    """A lookup found nothing (Find Customer by email); shaped like Stripe's own 404.

    Stripe answers an unknown id with 404 ``resource_missing``; a lookup by email
    that matches nothing gets the same status and code, so the engine treats
    both the same way: a permanent failure, never retried.
    """

    def __init__(self, message: str, *, param: str, request_id: str | None = None) -> None:
        super().__init__(
            message,
            http_status=404,
            type="invalid_request_error",
            code="resource_missing",
            param=param,
            request_id=request_id,
            retryable=False,
        )


def schema_errors(schema: dict[str, Any], data: Any) -> list[dict[str, str]]:
    """Every JSON Schema error as ``{"field": "items[0].price", "message": ...}``, sorted.

    The schema's ``x-stripe-*`` keywords count (values.Validator): exclusive
    fields, required companions, ``""`` on clearable fields.
    """
    validator = Validator(schema)
    errors: dict[str, dict[str, str]] = {}
    for error in validator.iter_errors(data):
        for described in _describe(error):
            errors.setdefault(described["field"], described)
    return [errors[name] for name in sorted(errors)]


def encoding_errors(data: Any) -> list[dict[str, str]]:
    """What Stripe's form encoding cannot carry (free-form params too), as field errors."""
    errors = {field_path(parts): message for parts, message in unsendable(data)}
    return [{"field": name, "message": errors[name]} for name in sorted(errors)]


def literal_errors(
    schema: dict[str, Any], literals: Mapping[str, Any], *, templated: Iterable[str] = ()
) -> list[dict[str, str]]:
    """Errors in the values known at save time (a mapping's literals), converted as at run time.

    ``templated`` names the top-level fields whose value is only known at run
    time: a problem about them (a missing companion) is left to the run. Top-level
    ``required`` is left out: the caller checks it against the whole mapping.
    """
    unknown = set(templated)
    data = prepare(schema, _drop_none(dict(literals)))
    partial = {key: value for key, value in schema.items() if key != "required"}
    errors = schema_errors(partial, data) or encoding_errors(data)
    return [error for error in errors if _top(error["field"]) not in unknown]


def value_type_problem(schema: dict[str, Any], parts: list[str | int], value: Any) -> str | None:
    """Why the field at ``parts`` cannot take ``value``, even converted (its type), or None."""
    spec = field_schema(schema, parts)
    if not isinstance(spec, Mapping):
        return None
    for error in Validator(spec).iter_errors(prepare(spec, value)):
        if error.validator == "type":
            where = field_path([*parts, *error.absolute_path])
            return f"{where} {_message(error)}"
    return None


def _top(name: str) -> str:
    """The top-level field of ``items[0].price`` (``items``)."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def field_path(parts: Any) -> str:
    """``["items", 0, "price"]`` -> ``items[0].price``."""
    text = ""
    for part in parts:
        text = child_path(text, part)
    return text


def child_path(path: str, part: str | int) -> str:
    """The field ``part`` inside ``path``: ``items`` and 0 give ``items[0]``, then
    ``price`` gives ``items[0].price``. The one way every message names a field."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else str(part)


def _describe(error: ValidationError) -> list[dict[str, str]]:
    """Turn one jsonschema error into field-named messages people can act on."""
    path = list(error.absolute_path)
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        return [{"field": field_path([*path, name]), "message": "is required"} for name in missing]
    if error.validator == "dependentRequired":
        return [
            {"field": field_path([*path, other]), "message": f"is required with {name}"}
            for name, others in error.validator_value.items()
            if name in instance
            for other in others
            if other not in instance
        ]
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        return [
            {"field": field_path([*path, name]), "message": "is not a known field"}
            for name in instance
            if name not in known
        ]
    return [{"field": field_path(path), "message": _message(error)}]


def _message(error: ValidationError) -> str:
    """Short messages for the common cases; jsonschema's own text otherwise."""
    if "propertyNames" in error.schema_path:
        return f"key {error.instance!r} {_key_problem(error)}"
    if error.validator == "type" and error.validator_value == "integer" and _fraction(error):
        return f"must be a whole number, got {error.instance!r}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}, got {type(error.instance).__name__}"
    if error.validator == "enum":
        return "must be one of: " + ", ".join(str(value) for value in error.validator_value)
    if error.validator == "pattern":
        return f"has an invalid format (expected to match {error.validator_value})"
    return error.message


def _fraction(error: ValidationError) -> bool:
    return isinstance(error.instance, float) or fractional_text(error.instance)


def _key_problem(error: ValidationError) -> str:
    """What is wrong with a key of an object (Stripe's metadata key rules)."""
    if error.validator == "pattern" and CONTROL_CHARACTERS.search(str(error.instance)):
        return "must not contain control characters"
    if error.validator == "pattern":
        return "must not contain [ or ]"
    if error.validator == "maxLength":
        return f"is longer than {error.validator_value} characters"
    if error.validator == "minLength":
        return "must not be empty"
    return error.message


def _drop_none(value: Any) -> Any:
    """Remove ``None`` values recursively (a missing mapping value means "not given")."""
    if isinstance(value, Mapping):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value if item is not None]
    return value


def exactly_one(*names: str) -> Rule:
    """A rule: exactly one of these fields must be given."""

    def rule(data: dict[str, Any]) -> list[dict[str, str]]:
        given = [name for name in names if name in data]
        if len(given) == 1:
            return []
        problem = "only one of" if given else "one of"
        field_name = given[1] if len(given) > 1 else names[0]
        return [{"field": field_name, "message": f"give {problem}: {', '.join(names)}"}]

    return rule


def object_operation(
    *,
    key: str,
    label: str,
    group: str,
    description: str,
    resource: str,
    id_schema,
    suffix: str,
    **extra,
) -> Action:
    """A POST on ``/v1/<resource>/{id}/<suffix>``: finalize an invoice, cancel an intent, ...

    Its input is the object's id, the operation's own options and ``expand``.
    """
    return Action(
        key=key,
        label=label,
        group=group,
        description=description,
        method="POST",
        path=f"/v1/{resource}/{{id}}/{suffix}",
        input_schema=s.input_schema(
            {"id": id_schema, **extra, "expand": s.expand()}, required=["id"]
        ),
    )
