"""Workflows as files, and copying a test-mode workflow to a live connection.

Export: a workflow as a JSON document without anything of its account (no key,
secret, connection, owner, samples, ids, nor whether it is active)::

    {"format": "konnectify.workflow", "version": 1,
     "workflow": {"name", "description", "trigger_key", "custom_event_type",
                  "schedule_cron", "schedule_minutes", "filters", "alert_emails",
                  "alert_chat", "steps": [{"name", "action_key", "input", "on_failure",
                  "condition", "condition_match", "for_each", "max_items"}]}}

``export_text`` writes it the same way every time (keys sorted, two-space indents,
UTF-8, a final newline), so ``export(import(export(w)))`` is byte-equal to
``export(w)``. An HTTP request step names its credential by name: the secret stays
in the credential, on each installation.

Import: a document onto a chosen connection, checked as a save through the API is
(``WorkflowSerializer``), created inactive. Copy to a live connection (promote): the
test workflow's document, with each literal Stripe id of a test-mode object replaced
by the live one, saved as the workflow's live copy (``Workflow.copied_from``),
created or updated inactive. Ids are found wherever text holds them literally: a whole
value, a word inside text (``/v1/customers/cus_...``), a quoted default inside a
reference (``{{ x | default('cus_...') }}``); never in a reference's names.

Only a credential's secret is kept out of a document: whatever is typed into a step (a
header, a URL's query) is exported as written (``workflows.hints`` warns of
secret-looking ones at save). Importing leaves out the document's alert addresses
unless asked to keep them, and refuses an HTTP request step naming a credential that
does not exist.

Problems are ``PortableError``: ``errors`` maps a path to messages. Paths are the
document's (``workflow.steps[1].action_key``; ``""``: the document itself), or
``connection`` (the connection chosen), ``replacements`` and
``replacements.<test id>`` (what a copy was given).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.text import slugify
from jinja2 import TemplateSyntaxError

from connections.credentials import Credential
from connections.models import Connection
from connections.permissions import can_use_credential, credential_refusal, require_use
from konnectify.platform.api.errors import flatten
from stripe_connector.jsonbounds import JSONProblem, check, escape_surrogates
from workflows import hints
from workflows.mapping import ENV, is_template
from workflows.models import Workflow
from workflows.serializers import WorkflowSerializer

FORMAT = "konnectify.workflow"
VERSION = 1
DOCUMENT_KEYS = ("format", "version", "workflow")
WORKFLOW_KEYS = (
    "name",
    "description",
    "trigger_key",
    "custom_event_type",
    "schedule_cron",
    "schedule_minutes",
    "filters",
    "alert_emails",
    "alert_chat",
    "steps",
)
# A step's document keys; "input" is the model's input_mapping (the API's name for it).
STEP_KEYS = (
    "name",
    "action_key",
    "input",
    "on_failure",
    "condition",
    "condition_match",
    "for_each",
    "max_items",
)

# Prefixes of Stripe object ids that exist in one mode only: an id of the test mode
# names nothing in the live mode. Not acct_ (an account is the same in both modes),
# not coupons (their ids are chosen text), not keys (sk_, pk_, rk_: secrets, not objects).
TEST_MODE_PREFIXES = (
    "ba",  # bank account
    "bpc",  # billing portal configuration
    "bps",  # billing portal session
    "card",
    "cbtxn",  # customer balance transaction
    "ch",  # charge
    "cn",  # credit note
    "cs",  # Checkout session (cs_test_...)
    "cus",
    "dp",  # dispute
    "du",  # dispute
    "evt",
    "fee",  # application fee
    "file",
    "iauth",  # Issuing authorization
    "ic",  # Issuing card
    "ich",  # Issuing cardholder
    "ii",  # invoice item
    "il",  # invoice line item
    "in",  # invoice
    "ipi",  # Issuing transaction
    "mtr",  # billing meter (mtr_test_...)
    "pi",  # PaymentIntent
    "plink",  # payment link
    "pm",  # PaymentMethod
    "po",  # payout
    "price",
    "prod",
    "promo",  # promotion code
    "py",  # payment
    "pyr",  # payment record
    "qt",  # quote
    "re",  # refund
    "seti",  # SetupIntent
    "shr",  # shipping rate
    "si",  # subscription item
    "src",  # source
    "sub",
    "sub_sched",  # subscription schedule
    "tax",  # tax calculation/transaction
    "tok",  # token
    "tr",  # transfer
    "trr",  # transfer reversal
    "txi",  # tax id
    "txn",  # balance transaction
    "txr",  # tax rate
    "we",  # webhook endpoint
)
_PREFIXES = "|".join(sorted(TEST_MODE_PREFIXES, key=len, reverse=True))
# An id's random part: 8 or more letters and digits, with a capital or a digit among
# them as Stripe's generated ids have ("in_progress" and "re_subscribe" are words).
_ID = rf"(?P<prefix>{_PREFIXES})_(?:(?:test|live)_)?(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{{8,}}"
STRIPE_ID = re.compile(rf"^{_ID}$")
# An id inside text (a URL's path, a sentence, a template's default): the same, standing
# alone as a word (no letter, digit or underscore touching it on either side).
STRIPE_ID_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9_]){_ID}(?![A-Za-z0-9_])")
# Stripe's test tokens and PaymentMethods (tok_visa, pm_card_visa): test mode only.
TEST_TOKEN = re.compile(r"^(?:tok|pm_card)_[a-z0-9_]+$")


class PortableError(ValueError):
    """A document or a copy refused: ``errors`` maps each path to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"{path or 'document'}: {' '.join(m)}" for path, m in errors.items())
        super().__init__(shown)


# -- export ---------------------------------------------------------------------------


def export_document(workflow: Workflow) -> dict[str, Any]:
    """The workflow's document (shape in the module's docstring), a new dict each call.

    Steps are listed in the order the engine runs them (``order``, then ``id``); numbers
    are in their canonical form (``canonical_numbers``)."""
    part = {name: canonical_numbers(getattr(workflow, name)) for name in WORKFLOW_KEYS[:-1]}
    part["steps"] = [
        {
            "name": step.name,
            "action_key": step.action_key,
            "input": canonical_numbers(step.input_mapping),
            "on_failure": step.on_failure,
            "condition": canonical_numbers(step.condition),
            "condition_match": step.condition_match,
            "for_each": step.for_each,
            "max_items": step.max_items,
        }
        for step in sorted(workflow.steps.all(), key=lambda step: (step.order, step.pk))
    ]
    return {"format": FORMAT, "version": VERSION, "workflow": part}


def canonical_numbers(value: Any) -> Any:
    """A copy of the JSON ``value`` with each whole float written as an integer
    (``1e20`` -> ``100000000000000000000``, ``2.0`` -> ``2``, ``-0.0`` -> ``0``), by the
    decimal the float is written as: PostgreSQL's jsonb keeps numbers as decimals and
    answers whole ones as integers, so this is the one form both databases give back.
    """
    if isinstance(value, dict):
        return {key: canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    return value


def export_text(workflow: Workflow) -> str:
    """``export_document`` as text, the same bytes for the same workflow every time."""
    return as_text(export_document(workflow))


def as_text(document: dict[str, Any]) -> str:
    """A document as exported: numbers canonical (``canonical_numbers``), keys sorted,
    indent 2, non-ASCII kept, a final newline. A lone surrogate (stored on SQLite before
    input refused them) is written as its ``\\uXXXX`` escape, so the text can be sent."""
    text = json.dumps(canonical_numbers(document), indent=2, sort_keys=True, ensure_ascii=False)
    return escape_surrogates(text) + "\n"


def export_filename(workflow: Workflow) -> str:
    """The download's name, e.g. ``invoice-new-customers.workflow.json``."""
    return f"{slugify(workflow.name) or 'workflow'}.workflow.json"


# -- import -----------------------------------------------------------------------------


def import_workflow(
    document: Any, connection: Connection, user, *, keep_alert_emails: bool = False
) -> Workflow:
    """Create an inactive workflow on ``connection`` from ``document`` (a parsed export).

    The document's shape is checked first (an object with exactly ``format``,
    ``version`` and ``workflow``; known keys only), then the workflow is validated
    and saved as the API saves one (``WorkflowSerializer``: trigger, filters, each
    step's mapping, condition and for-each), owned by ``user``; an HTTP request step
    must name a credential that exists here. The document's ``alert_emails`` (who gets
    failed runs' alerts, with their customer data) are imported only with
    ``keep_alert_emails``; left out, a warning lists them.

    Returns the saved workflow; ``workflow.api_warnings`` lists doubtful references and
    the addresses left out (``[{"field": "steps[0].input.email", "message"}]``, paths
    from the workflow as the API's warnings).

    Raises PortableError (every problem at once, by path), CredentialRefused (a
    PermissionDenied: ``user`` may not use a credential the steps name; its ``errors``
    by path) or PermissionDenied (``user`` may not use ``connection``).
    """
    problems = document_problems(document)
    if problems:
        raise PortableError(problems)
    require_use(user, connection)
    part = dict(document["workflow"])
    left_out = alert_emails_left_out(part, keep_alert_emails)
    refuse_credentials(part, user)
    with transaction.atomic():
        workflow = save_document(part, connection, user, missing_credentials_are_errors=True)
    if left_out:
        workflow.api_warnings.append({"field": "alert_emails", "message": left_out})
    return workflow


def alert_emails_left_out(part: dict, keep: bool) -> str:
    """Empty the part's ``alert_emails`` unless ``keep``; returns the warning naming the
    addresses left out ("" when none were)."""
    emails = part.get("alert_emails")
    if keep or not isinstance(emails, list) or not emails:
        return ""
    part["alert_emails"] = []
    shown = ", ".join(str(email) for email in emails)
    return (
        f"Not imported: the document sends failed runs' alerts (with customer data) to "
        f"{shown}. Add the addresses that are yours on the workflow, or import with "
        "keep_alert_emails."
    )


class CredentialRefused(PermissionDenied):
    """A PermissionDenied (403) for credentials the user may not use, with ``errors``
    by document path (``workflow.steps[2].input.credential``) for pages that list them."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(next(iter(errors.values()))[0])


def refuse_credentials(part: dict, user) -> None:
    """CredentialRefused unless ``user`` may use every existing credential the part's
    HTTP request steps name (as saving checks, ``services.require_credentials``)."""
    steps = document_steps(part)
    named = dict(hints.step_credentials(steps))
    credentials = {
        credential.name: credential
        for credential in Credential.objects.filter(name__in=set(named.values()))
    }
    found: dict[str, list[str]] = {}
    for index, name in named.items():
        if name in credentials and not can_use_credential(user, credential := credentials[name]):
            found[f"workflow.steps[{index}].input.credential"] = [
                credential_refusal(user, credential.name)
            ]
    if found:
        raise CredentialRefused(found)


def document_steps(part: dict) -> list[dict]:
    """The part's steps as saves check them: ``action_key`` and ``input_mapping``."""
    steps = part.get("steps")
    return [
        {"action_key": step.get("action_key"), "input_mapping": step.get("input")}
        if isinstance(step, dict)
        else {}
        for step in (steps if isinstance(steps, list) else [])
    ]


def document_problems(document: Any) -> dict[str, list[str]]:
    """The shape's problems by path (empty when the document may be validated)."""
    if not isinstance(document, dict):
        return {"": [f"A workflow document is a JSON object, not {kind(document)}."]}
    try:
        check(document)
    except JSONProblem as exc:
        return {exc.field: [exc.reason]}
    found = unknown_keys(document, DOCUMENT_KEYS, "", "a workflow document")
    for key in DOCUMENT_KEYS:
        if key not in document:
            found[key] = ["Missing: a workflow document has format, version and workflow."]
    if "format" in document and document["format"] != FORMAT:
        found["format"] = [f"Must be {FORMAT!r}: this is not a file exported from Konnectify."]
    version = document.get("version", VERSION)
    if type(version) is not int or version != VERSION:
        found["version"] = [f"Version {version!r} is not supported: this version reads {VERSION}."]
    if "workflow" in document:
        found.update(workflow_problems(document["workflow"]))
    return found


def workflow_problems(part: Any) -> dict[str, list[str]]:
    """The ``workflow`` object's shape: known keys, ``steps`` a list of objects."""
    if not isinstance(part, dict):
        return {"workflow": [f"Must be an object, not {kind(part)}."]}
    found = unknown_keys(part, WORKFLOW_KEYS, "workflow", "a workflow")
    steps = part.get("steps", [])
    if not isinstance(steps, list):
        found["workflow.steps"] = [f"Must be a list of steps, not {kind(steps)}."]
        return found
    for index, step in enumerate(steps):
        path = f"workflow.steps[{index}]"
        if isinstance(step, dict):
            found.update(unknown_keys(step, STEP_KEYS, path, "a step"))
        else:
            found[path] = [f"A step is an object, not {kind(step)}."]
    return found


def unknown_keys(value: dict, known: tuple[str, ...], path: str, what: str) -> dict:
    prefix = f"{path}." if path else ""
    return {
        f"{prefix}{key}": [f"Unknown key: {what} has {', '.join(known)}."]
        for key in value
        if key not in known
    }


def kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def save_document(
    part: dict,
    connection: Connection,
    user,
    instance: Workflow | None = None,
    *,
    missing_credentials_are_errors: bool = False,
    **extra: Any,
) -> Workflow:
    """Save a document's ``workflow`` part on ``connection``, inactive, through the API's
    serializer (``instance``: update it, its steps replaced; ``extra``: more fields).
    With ``missing_credentials_are_errors``, a step naming a credential that does not
    exist is refused (at ``workflow.steps[i].input.credential``), not only warned of.

    Raises PortableError with the serializer's errors as document paths.
    """
    data = {key: copy.deepcopy(value) for key, value in part.items()}
    data.update(connection=str(connection.pk), active=False)
    serializer = WorkflowSerializer(instance, data=data, context={"user": user})
    found = {} if serializer.is_valid() else document_errors(serializer.errors)
    if missing_credentials_are_errors:
        for index, name in hints.missing_credentials(document_steps(part)).items():
            path = f"workflow.steps[{index}].input.credential"
            found.setdefault(path, []).append(hints.missing_credential_message(name))
    if found:
        raise PortableError(found)
    return serializer.save(**extra)


def document_errors(detail: Any) -> dict[str, list[str]]:
    """The serializer's errors (``steps[1].action_key``) by document path
    (``workflow.steps[1].action_key``); the connection's stay ``connection``."""
    found: dict[str, list[str]] = {}
    for item in flatten(detail):
        field = item["field"]
        if field != "connection":
            field = f"workflow.{field}" if field else "workflow"
        found.setdefault(field, []).append(item["message"])
    return found


# -- copying to a live connection ------------------------------------------------------


def promotion_preview(
    workflow: Workflow, target: Connection, replacements: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What copying ``workflow`` to ``target`` would do; nothing is written.

    Returns::

        {"target": {"id": "<uuid>", "name", "mode"},
         "live_copy": {"id", "name", "active"} or None,
         "differences": [{"path", "live", "test"}],
         "stripe_ids": [{"id", "paths": [...], "suggestion": "<live id>" or None}],
         "will_deactivate": bool}

    ``stripe_ids``: the literal test-mode ids the copy needs replaced (``stripe_ids``),
    each with the live copy's value at its paths as ``suggestion`` when that is one id
    of the same kind. ``differences`` compare the live copy's document with the test
    workflow's as it would be copied: the given ``replacements`` applied, and for an id
    not given its suggestion (``differences``); empty when there is no copy yet.
    ``will_deactivate``: the live copy is active (copying deactivates it). Raises
    PortableError when the workflow is not in test mode or ``target`` not in live mode
    (``check_promotion``).
    """
    check_promotion(workflow, target)
    existing = live_copy(workflow, target)
    test_side = export_document(workflow)["workflow"]
    found = stripe_ids(test_side)
    given = {
        key: value.strip()
        for key, value in (replacements or {}).items()
        if isinstance(value, str) and value.strip()
    }
    live_side = export_document(existing)["workflow"] if existing else None
    live_leaves = dict(leaves(live_side)) if live_side else {}
    test_leaves = dict(leaves(test_side))
    for item in found:
        item["suggestion"] = suggestion(item, test_leaves, live_leaves)
    applied = {item["id"]: item["suggestion"] for item in found if item["suggestion"]}
    applied.update(given)
    return {
        "target": {"id": str(target.pk), "name": target.name, "mode": target.mode},
        "live_copy": (
            {"id": existing.pk, "name": existing.name, "active": existing.active}
            if existing
            else None
        ),
        "differences": (
            differences(live_side, apply_replacements(test_side, applied)) if live_side else []
        ),
        "stripe_ids": found,
        "will_deactivate": bool(existing and existing.active),
    }


def promote(
    workflow: Workflow, target: Connection, user, replacements: Mapping[str, str]
) -> Workflow:
    """Copy a test-mode workflow to the live connection ``target``, inactive.

    Its document, each literal test-mode Stripe id replaced by ``replacements[id]``
    (that id only, wherever ``id_spans`` finds it in a string of the steps' inputs,
    conditions and the filters), is saved
    as ``Workflow(connection=target, copied_from=workflow)`` through the API's
    serializer (its checks, ``authorize_save``: ``user`` becomes the owner): created,
    or the existing copy updated (its steps replaced) and made inactive. One
    transaction: on any refusal nothing is written.

    Raises PortableError (source not in test mode, target not live, an id without a
    replacement, a replacement that is not a live id of the same kind, the copy's
    validation), CredentialRefused (``user`` may not use a credential the steps name;
    ``errors`` by path) or PermissionDenied (``user`` may not use ``target``). The
    returned workflow says ``copy_created`` (bool) and ``copy_deactivated`` (it was
    active) and has ``api_warnings``.
    """
    check_promotion(workflow, target)
    require_use(user, target)
    with transaction.atomic():
        source = Workflow.objects.select_for_update().get(pk=workflow.pk)
        part = export_document(source)["workflow"]
        ids = [item["id"] for item in stripe_ids(part)]
        cleaned = checked_replacements(ids, replacements)
        refuse_credentials(part, user)
        existing = live_copy(source, target)
        was_active = bool(existing and existing.active)
        saved = save_document(
            apply_replacements(part, cleaned), target, user, existing, copied_from=source
        )
    saved.copy_created = existing is None
    saved.copy_deactivated = was_active
    return saved


def check_promotion(workflow: Workflow, target: Connection) -> None:
    """PortableError unless the workflow runs in test mode (path ``workflow``) and
    ``target`` is in live mode (path ``connection``)."""
    found = {}
    if problem := source_problem(workflow):
        found["workflow"] = [problem]
    if target.mode != Connection.Mode.LIVE:
        found["connection"] = [
            f"Choose a live-mode connection: {target.name!r} is in "
            f"{target.mode or 'an unknown'} mode."
        ]
    if found:
        raise PortableError(found)


def source_problem(workflow: Workflow) -> str:
    """Why the workflow cannot be copied to live mode ("" when it can: it is in test mode)."""
    source = workflow.connection
    if source.mode == Connection.Mode.TEST:
        return ""
    return (
        f"Only a workflow on a test-mode connection is copied to live mode: "
        f"{workflow.name!r} runs on {source.name!r}, in {source.mode or 'an unknown'} mode."
    )


def live_copy(workflow: Workflow, target: Connection) -> Workflow | None:
    """The workflow's copy on ``target`` (the first made, if several), or None."""
    return Workflow.objects.filter(connection=target, copied_from=workflow).order_by("pk").first()


def checked_replacements(ids: list[str], replacements: Mapping[str, Any]) -> dict[str, str]:
    """``replacements`` with their values stripped, or PortableError naming every problem:
    an id listed without a replacement, a replacement for an id the workflow does not
    name, a value that is not a Stripe id of the same kind or is a test-mode one.

    A replacement may be the id itself: objects copied to live mode in Stripe's
    dashboard (products, prices) keep their ids.
    """
    given = {key: value.strip() for key, value in replacements.items() if isinstance(value, str)}
    found: dict[str, list[str]] = {}
    missing = [test_id for test_id in ids if not given.get(test_id)]
    if missing:
        found["replacements"] = [
            f"Give the live-mode id for each test-mode id the workflow names: {', '.join(missing)}."
        ]
    unknown = sorted(key for key in replacements if key not in ids)
    if unknown:
        found.setdefault("replacements", []).append(
            f"Not a Stripe id this workflow names: {', '.join(unknown)}."
        )
    for test_id in ids:
        problem = replacement_problem(test_id, given.get(test_id, ""))
        if problem:
            found[f"replacements.{test_id}"] = [problem]
    if found:
        raise PortableError(found)
    return {test_id: given[test_id] for test_id in ids}


def replacement_problem(test_id: str, value: str) -> str:
    """Why ``value`` cannot replace ``test_id`` ("" when it can, or when it is empty)."""
    if not value:
        return ""
    wanted = id_prefix(test_id)
    if id_prefix(value) != wanted:
        return f"{value!r} is not a Stripe id like {test_id!r}: give the live {wanted}_ id."
    if value != test_id and ("_test_" in value or TEST_TOKEN.match(value)):
        return f"{value!r} is a test-mode id: give the live one."
    return ""


def id_prefix(value: str) -> str | None:
    """The object kind of a test-mode id (``cus``, ``tok``...), or None if not one."""
    if TEST_TOKEN.match(value):
        return value.split("_", 1)[0]
    match = STRIPE_ID.match(value)
    return match["prefix"] if match else None


def is_stripe_id(value: Any) -> bool:
    """Whether ``value`` is literal text naming a test-mode Stripe object: the whole
    string is an id of a mode-specific kind (``TEST_MODE_PREFIXES``: ``cus_...``,
    ``price_...``, ``cs_test_...``; not ``acct_``), or a test token (``tok_visa``,
    ``pm_card_visa``). A templated string is not literal."""
    return isinstance(value, str) and not is_template(value) and id_prefix(value) is not None


# -- where ids are, and differences -----------------------------------------------------


def id_places(part: dict) -> Iterator[tuple[str, Any]]:
    """(path, value) of what may hold a literal id: the filters' values, each step's
    input and its condition's values (``steps[<name>].input``...)."""
    for index, rule in enumerate(part.get("filters") or []):
        if isinstance(rule, dict) and "value" in rule:
            yield f"filters[{index}].value", rule["value"]
    for step in part.get("steps") or []:
        prefix = f"steps[{step['name']}]"
        yield f"{prefix}.input", step.get("input")
        for index, rule in enumerate(step.get("condition") or []):
            if isinstance(rule, dict) and "value" in rule:
                yield f"{prefix}.condition[{index}].value", rule["value"]


def stripe_ids(part: dict) -> list[dict[str, Any]]:
    """``[{"id", "paths"}]``: each literal test-mode id in the places ``id_places`` lists,
    in the order first met, with every path holding it.

    An id is found anywhere in a string (``id_spans``): a whole value
    (``"cus_NffrFeUfNV2Hib"``), a word inside text (``"/v1/customers/cus_Nffr..."``),
    or a quoted literal inside a template (``{{ x | default('cus_Nffr...') }}``)."""
    found: dict[str, list[str]] = {}
    for base, value in id_places(part):
        for path, leaf in leaves(value, base):
            if not isinstance(leaf, str):
                continue
            for start, end in id_spans(leaf):
                paths = found.setdefault(leaf[start:end], [])
                if path not in paths:
                    paths.append(path)
    return [{"id": test_id, "paths": paths} for test_id, paths in found.items()]


def id_spans(text: str) -> list[tuple[int, int]]:
    """``[(start, end)]`` of the test-mode ids written literally in ``text``, in order.

    The whole text when it is one id or test token (``is_stripe_id``); otherwise each
    id standing alone as a word (``STRIPE_ID_IN_TEXT``) in the text's literal parts
    (``literal_spans``): never in a template's names and paths."""
    if is_stripe_id(text):
        return [(0, len(text))]
    return [
        match.span()
        for start, end in literal_spans(text)
        for match in STRIPE_ID_IN_TEXT.finditer(text, start, end)
    ]


def literal_spans(text: str) -> list[tuple[int, int]]:
    """``[(start, end)]`` of what ``text`` holds literally: all of it when it is no
    template; in a template, its text between the tags and the quoted strings inside
    them (not names, operators, comments). A template the lexer cannot place exactly
    (broken markup) is taken whole."""
    if not is_template(text):
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    cursor = 0
    try:
        for _line, kind, value in ENV.lex(text):
            # The lexer may drop whitespace around "-" tags: find each token after the last.
            start = text.index(value, cursor)
            cursor = start + len(value)
            if kind == "data":
                spans.append((start, cursor))
            elif kind == "string":
                spans.append((start + 1, cursor - 1))  # inside the quotes
    except (TemplateSyntaxError, ValueError):
        return [(0, len(text))]
    return spans


def apply_replacements(part: dict, replacements: Mapping[str, str]) -> dict:
    """A copy of the ``workflow`` part with each id ``id_spans`` finds that is a key of
    ``replacements`` replaced (that id only: the text around it stays), in the places
    ``id_places`` lists."""
    part = copy.deepcopy(part)
    if not replacements:
        return part

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        if isinstance(value, str):
            return replace_ids(value, replacements)
        return value

    for rule in part.get("filters") or []:
        if isinstance(rule, dict) and "value" in rule:
            rule["value"] = swap(rule["value"])
    for step in part.get("steps") or []:
        step["input"] = swap(step.get("input"))
        for rule in step.get("condition") or []:
            if isinstance(rule, dict) and "value" in rule:
                rule["value"] = swap(rule["value"])
    return part


def replace_ids(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with each id of ``id_spans`` that ``replacements`` maps replaced."""
    for start, end in reversed(id_spans(text)):
        found = text[start:end]
        if found in replacements:
            text = text[:start] + replacements[found] + text[end:]
    return text


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of each scalar or empty object/list in ``value``, in order.

    Paths are dotted for keys and indexed for lists (``input.items[0].price``); the
    document's steps are named, not numbered: ``steps[find_customer].input.id``.
    """
    if isinstance(value, dict) and value:
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if child == "steps" and isinstance(item, list) and not path:
                for step in item:
                    yield from leaves(step, f"steps[{step.get('name')}]")
            else:
                yield from leaves(item, child)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


_ABSENT = object()


def differences(live: dict, test: dict) -> list[dict[str, Any]]:
    """``[{"path", "live", "test"}]``: where the live copy's ``workflow`` part differs
    from the test workflow's.

    Steps are matched by name, not position: a step only on one side is one
    difference at ``steps[<name>]`` (the whole step on that side, null on the other);
    matched steps differ by their fields (``steps[send].input.id``); steps in another
    order are one difference at ``steps`` (the names in order on each side). Other
    lists are compared by position. A value absent on one side is shown as null.
    Ordered as the test workflow's document, then what only the live copy has.
    """
    live_steps = {step["name"]: step for step in live.get("steps", [])}
    test_steps = {step["name"]: step for step in test.get("steps", [])}
    found = _leaf_differences(
        {key: value for key, value in live.items() if key != "steps"},
        {key: value for key, value in test.items() if key != "steps"},
        "",
    )
    for name, step in test_steps.items():
        path = f"steps[{name}]"
        if name in live_steps:
            found += _leaf_differences(live_steps[name], step, path)
        else:
            found.append({"path": path, "live": None, "test": step})
    found += [
        {"path": f"steps[{name}]", "live": step, "test": None}
        for name, step in live_steps.items()
        if name not in test_steps
    ]
    common_live = [name for name in live_steps if name in test_steps]
    common_test = [name for name in test_steps if name in live_steps]
    if common_live != common_test:
        found.append({"path": "steps", "live": list(live_steps), "test": list(test_steps)})
    return found


def _leaf_differences(live: Any, test: Any, path: str) -> list[dict[str, Any]]:
    live_leaves = dict(leaves(live, path))
    test_leaves = dict(leaves(test, path))
    found = []
    for key in [*test_leaves, *(key for key in live_leaves if key not in test_leaves)]:
        before, after = live_leaves.get(key, _ABSENT), test_leaves.get(key, _ABSENT)
        if not same(before, after):
            found.append({"path": key, "live": shown(before), "test": shown(after)})
    return found


def same(first: Any, second: Any) -> bool:
    """Equal as JSON values (1 and 1.0 and true differ; so do absent and null)."""
    return type(first) is type(second) and first == second


def shown(value: Any) -> Any:
    return None if value is _ABSENT else value


def suggestion(
    item: dict[str, Any], test_leaves: dict[str, Any], live_leaves: dict[str, Any]
) -> str | None:
    """The live copy's id where the test workflow has ``item["id"]``, when every such
    place agrees on one id of the same kind (or the id itself); else None.

    At each path the test value and the live copy's must be the same text apart from
    their ids (``"/v1/customers/cus_Test..."`` and ``"/v1/customers/cus_Live..."``):
    the live id is the one in the test id's position. Any other value (a list, an
    object, other text) suggests nothing."""
    wanted = id_prefix(item["id"])
    found: set[str] = set()
    for path in item["paths"]:
        test_value, live_value = test_leaves.get(path), live_leaves.get(path)
        if not (isinstance(test_value, str) and isinstance(live_value, str)):
            return None
        test_spans, live_spans = id_spans(test_value), id_spans(live_value)
        if len(test_spans) != len(live_spans) or id_skeleton(test_value, test_spans) != id_skeleton(
            live_value, live_spans
        ):
            return None
        for (start, end), (live_start, live_end) in zip(test_spans, live_spans, strict=True):
            if test_value[start:end] == item["id"]:
                found.add(live_value[live_start:live_end])
    if len(found) != 1:
        return None
    value = found.pop()
    return value if id_prefix(value) == wanted else None


def id_skeleton(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """``text`` cut at its ids: the parts around them, to compare two texts' shapes."""
    parts, cursor = [], 0
    for start, end in spans:
        parts.append(text[cursor:start])
        cursor = end
    parts.append(text[cursor:])
    return parts
