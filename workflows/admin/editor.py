"""The step and filter editors of the workflow page: forms derived from the catalog.

A step's input is edited as a form built from its action's input schema (the
catalog's JSON Schema) by one converter, ``editor_schema``; django-jsonform's
React editor renders it in the browser and ``workflows/static/workflows/editor.js``
keeps it in step with the raw JSON, which stays the field that is posted. Every leaf
of the form is text: a field takes a literal or a reference
(``{{ trigger.data.object.customer }}``), and ``stripe_connector.catalog.values``
turns whole-number text into integers, ``"true"`` into booleans, as for any input.

The data picker beside each editor asks ``paths_view`` for the paths of the
trigger's sample event and of earlier steps' recorded outputs, as the page shows
them (unsaved trigger and steps included): the lists among them (what a step may
repeat for each item of) and, for a step that repeats, its item's fields.

A step's "Run only if" is the rules editor of the workflow's filters over paths that
start at ``trigger.`` or ``steps.<an earlier step>.`` (``condition_schema``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import escape

from konnectify.platform.forms import BoundedJSONField
from stripe_connector.catalog import ACTIONS, get_trigger
from stripe_connector.catalog.schema import CLEARABLE
from stripe_connector.jsonbounds import JSONProblem, escape_surrogates
from stripe_connector.jsonbounds import loads as bounded_loads
from workflows import filters
from workflows.models import SCHEDULE_TRIGGER, Run, RunStatus, Step, StepRun, Workflow

# The picker lists at most this many paths per source (a trigger's sample has ~150).
MAX_PATHS = 400
# At most this many earlier steps are asked about in one request.
MAX_STEPS = 50
_EXAMPLE_LENGTH = 60

# What each filter operator means, shown in the operator select (filters.py decides).
OPERATOR_MEANINGS: dict[str, str] = {
    "equals": "equals the value (the path must be present)",
    "not_equals": "does not equal the value, or the path is missing",
    "in": "is one of a list of values",
    "not_in": "is none of a list of values, or the path is missing",
    "exists": "the path is present (also when its value is null)",
    "not_exists": "the path is missing",
    "is_null": "the value is null",
    "is_not_null": "the path is present and not null",
    "contains": "text contains the value, or a list/object holds it",
    "gt": "is greater than the value",
    "gte": "is greater than or equal to the value",
    "lt": "is less than the value",
    "lte": "is less than or equal to the value",
}

# How the form writes Stripe's empty value, which unsets a field (editor.js reads the
# exact text "" as the empty string; an empty field is left out of the request).
CLEAR_HINT = 'Type "" to clear it in Stripe; a field left empty is not sent.'
CLEAR_GROUP_HINT = 'To clear it in Stripe, set it to "" in Advanced: JSON.'

_LEAF_HINTS = {
    "integer": "A whole number (text like 1099 is read as one) or a reference.",
    "number": "A number or a reference.",
    "boolean": "true or false, or a reference.",
}


# -- the converter ------------------------------------------------------------------


def label(name: str) -> str:
    """A field's label from its key: ``postal_code`` -> "Postal code"."""
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])", " ", name.replace("_", " ")).strip()
    return text[:1].upper() + text[1:]


def editor_schema(
    schema: Any, *, name: str = "", required: bool = False, clearable: bool = False
) -> dict[str, Any]:
    """django-jsonform's schema for the JSON Schema ``schema`` of an action's input.

    Objects become groups (``properties``; free keys such as metadata become
    ``additionalProperties``, an "add key" button), arrays become add-a-row lists,
    and every other field becomes a text input, since any field may hold a
    reference. A leaf carries its label, ``help_text`` (the catalog's description,
    the expected type, the choices), ``required`` and ``x-choices`` (Stripe's
    documented values, offered as suggestions). ``name``: the key, for the label.
    Fields Stripe lets you unset (``x-stripe-clearable``) and the values of a clearable
    group's free keys (metadata: "an empty value removes that key") say how to send
    ``""``; ``clearable`` marks the latter.
    """
    spec: Mapping[str, Any] = schema if isinstance(schema, Mapping) else {}
    kind = spec.get("type")
    title = label(name) + (" (required)" if required and kind in ("object", "array") else "")
    described = spec.get("description", "")
    if spec.get(CLEARABLE) and kind in ("object", "array"):
        described = " ".join(_sentence(text) for text in (described, CLEAR_GROUP_HINT) if text)
    if kind == "object":
        wanted = set(spec.get("required", []))
        properties = {
            key: editor_schema(item, name=key, required=key in wanted)
            for key, item in spec.get("properties", {}).items()
        }
        result: dict[str, Any] = {"type": "object", "title": title, "properties": properties}
        extra = spec.get("additionalProperties")
        if isinstance(extra, Mapping):
            result["additionalProperties"] = editor_schema(
                extra, clearable=bool(spec.get(CLEARABLE))
            )
        elif extra is None and not properties:
            # Free-form parameters (the raw API request): keys of text values.
            result["additionalProperties"] = editor_schema({"type": "string"})
        if described:
            result["help_text"] = described
        return result
    if kind == "array":
        result = {"type": "array", "title": title, "items": editor_schema(spec.get("items"))}
        if described:
            result["help_text"] = described
        return result
    return _leaf(spec, title, required, clearable or bool(spec.get(CLEARABLE)))


def _leaf(spec: Mapping[str, Any], title: str, required: bool, clearable: bool) -> dict[str, Any]:
    """A text input: a literal of the field's type, or a reference."""
    kind = spec.get("type") or "string"
    hints = [spec.get("description", "")]
    hints.append(_LEAF_HINTS.get(kind, ""))
    choices = [str(choice) for choice in spec.get("enum", [])]
    if choices:
        hints.append("One of: " + ", ".join(choices) + ".")
    if clearable:
        hints.append(CLEAR_HINT)
    result: dict[str, Any] = {
        "type": "string",
        "title": title,
        "help_text": " ".join(_sentence(hint) for hint in hints if hint),
        "x-type": kind,
    }
    if required:
        result["required"] = True
    if choices:
        result["x-choices"] = choices
    return result


def _sentence(text: str) -> str:
    return text if text.endswith((".", ")", "?", "!")) else text + "."


def action_schemas() -> dict[str, dict[str, Any]]:
    """Every catalog action's editor schema, by action key (embedded once per page)."""
    return {key: editor_schema(action.input_schema) for key, action in ACTIONS.items()}


def filters_schema() -> dict[str, Any]:
    """The filters editor: rows of path, operator (filters.OPERATORS) and value."""
    return _rules_schema(
        "Filter",
        "Dotted path in the event, e.g. data.object.status "
        "(list positions as numbers: data.object.lines.data.0.price.id).",
    )


def condition_schema() -> dict[str, Any]:
    """A step's "Run only if" editor: the filters' rows, over the run's data."""
    return _rules_schema(
        "Rule",
        "Dotted path from trigger. (the event) or steps.<an earlier step>. (its output), "
        "e.g. trigger.data.object.amount_due or steps.find_customer.email "
        "(list positions as numbers: trigger.data.object.lines.data.0.price.id).",
    )


def _rules_schema(title: str, path_help: str) -> dict[str, Any]:
    """Rows of path, operator (filters.OPERATORS, with their meanings) and value."""
    operators = [
        {"title": f"{op}: {OPERATOR_MEANINGS.get(op, op)}", "value": op} for op in filters.OPERATORS
    ]
    return {
        "type": "array",
        "title": "",
        "items": {
            "type": "object",
            "title": title,
            "properties": {
                "path": {
                    "type": "string",
                    "title": "Path",
                    "required": True,
                    "help_text": path_help,
                },
                "op": {
                    "type": "string",
                    "title": "Operator",
                    "choices": operators,
                    "default": "equals",
                },
                "value": {
                    "type": "string",
                    "title": "Value",
                    "help_text": "Plain text, or JSON for other types: 1000, true, null, "
                    '["draft", "open"] for in / not_in, "1000" for the text 1000. '
                    "Not used by exists, not_exists, is_null, is_not_null.",
                },
            },
        },
    }


# -- form fields and widgets ---------------------------------------------------------


class EditorJSONField(BoundedJSONField):
    """The product's bounded JSON field; text that is not JSON says where it breaks.

    "Invalid JSON: Expecting ',' delimiter (line 3, column 5)", as ``json`` finds it.
    """

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            if isinstance(value, str):
                try:
                    json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValidationError(
                        "Invalid JSON: %(message)s (line %(line)s, column %(column)s).",
                        code="invalid",
                        params={"message": exc.msg, "line": exc.lineno, "column": exc.colno},
                    ) from None
                except (ValueError, RecursionError):
                    pass
            raise

    def prepare_value(self, value: Any) -> Any:
        """The JSON as the Advanced: JSON view shows it: indented by 2, as the form writes it.

        A lone surrogate stored before the bound refused them is shown as its escape
        (the page could not be encoded otherwise); saving it is refused, naming the field.
        """
        if isinstance(value, InvalidJSONInput):
            return value
        return escape_surrogates(json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder))


class EditorWidget(forms.Textarea):
    """The raw JSON (posted as is) inside the form editor and its data picker.

    ``kind``: "step" (an action's input, schema chosen by the step's action select)
    or "filters" (the workflow's filters, schema given here).
    """

    template_name = "admin/workflows/editor_widget.html"

    def __init__(self, kind: str, schema: dict | None = None, attrs: dict | None = None) -> None:
        super().__init__(attrs={"rows": 8, "class": "kf-editor-raw", **(attrs or {})})
        self.kind = kind
        self.schema = schema

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["editor"] = {
            "kind": self.kind,
            "schema": json.dumps(self.schema) if self.schema is not None else "",
            "paths_url": reverse("admin:workflows_editor_paths"),
        }
        return context

    @property
    def media(self) -> forms.Media:
        return forms.Media(
            css={"all": ["django_jsonform/style.css", "workflows/editor.css"]},
            js=[
                "django_jsonform/vendor/react.production.min.js",
                "django_jsonform/vendor/react-dom.production.min.js",
                "django_jsonform/vendor/react-modal.min.js",
                "django_jsonform/react-json-form.js",
                "workflows/editor.js",
            ],
        )


class FiltersField(EditorJSONField):
    """Workflow.filters in admin: the filters editor over the raw JSON list."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["widget"] = EditorWidget("filters", filters_schema())
        super().__init__(**kwargs)


class ConditionField(EditorJSONField):
    """Step.condition in admin: the rules editor over the raw JSON list; empty is []."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["widget"] = EditorWidget("condition", condition_schema())
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        return [] if value is None else value


class ForEachInput(forms.TextInput):
    """Step.for_each: a path typed, or picked among the lists of the condition's picker."""

    def __init__(self) -> None:
        super().__init__(
            attrs={
                "class": "vTextField kf-for-each",
                "placeholder": "e.g. trigger.data.object.lines.data",
                "spellcheck": "false",
                "autocomplete": "off",
            }
        )


def step_name_help() -> str:
    """Step.name's help, escaped: admin renders help text as HTML (``<name>`` is no tag)."""
    return escape(Step._meta.get_field("name").help_text)


# -- the data picker's paths -----------------------------------------------------------


def paths_view(model_admin, request: HttpRequest) -> JsonResponse:
    """GET: the paths the picker lists, for the trigger and steps as the page shows them.

    Query: ``trigger_key``, ``custom_event_type``, ``workflow`` (its id; absent on the
    add page) and ``steps``, a JSON list of ``{"id": ..., "name": ..., "order": ...,
    "for_each": ...}`` (the page's steps, saved or not; order and for_each optional).
    Answer::

        {"trigger": [{"reference": "trigger.data.object.id", "path": "data.object.id",
                      "example": "'cus_123'"}, ...],
         "trigger_lists": [{"path": "data.object.lines.data", "count": 2}, ...],
         "steps": [{"name": "find", "source": "Test a step" | "a run" | "",
                    "paths": [{"reference": "steps.find.email", "path": "email",
                               "example": ...}],
                    "lists": [{"path": "sources.data", "count": 1}],
                    "item": {...}}]}    # only for a step with a for_each, see _item_paths

    ``path`` is dotted from the trigger's event or the step's output (a condition's
    path is ``trigger.`` or ``steps.<name>.`` then it); ``lists`` are the lists found
    (a list's first item is followed, as for the paths), ``count`` their length.
    Changing the workflow (or adding one, on the add page) is needed: 403 otherwise;
    an unknown workflow is 404, a malformed query 400. A run's output (customer data
    Stripe returned) is offered only to a user who may view runs, as on the runs
    pages, and only for a saved step of this workflow, found by its id.
    """
    workflow = None
    if request.GET.get("workflow"):
        workflow = _workflow(request.GET["workflow"])
        if not model_admin.has_change_permission(request, workflow):
            raise PermissionDenied("The data picker needs to change this workflow.")
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied("The data picker needs to add workflows.")
    try:
        steps = bounded_loads(request.GET.get("steps") or "[]")
    except JSONProblem as exc:
        return JsonResponse({"error": f"steps must be a JSON list: {exc}"}, status=400)
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        return JsonResponse({"error": f"steps must be a list of at most {MAX_STEPS}"}, status=400)
    sample = _sample(
        workflow, request.GET.get("trigger_key", ""), request.GET.get("custom_event_type", "")
    )
    steps = [item for item in steps if isinstance(item, dict)]
    may_view_runs = _may_view_runs(model_admin, request)
    outputs = [_step_output(workflow, item, runs=may_view_runs) for item in steps]
    answers = [_step_paths(item, *known) for item, known in zip(steps, outputs, strict=True)]
    for position, (item, answer) in enumerate(zip(steps, answers, strict=True)):
        for_each = str(item.get("for_each") or "").strip()
        if for_each:
            context = {"trigger": sample, "steps": _earlier_outputs(steps, outputs, position)}
            answer["item"] = _item_paths(for_each, context)
    return JsonResponse(
        {
            "trigger": [
                {"reference": ref, "path": dotted, "example": example}
                for ref, dotted, example in sorted(
                    flatten(sample, "trigger"), key=lambda row: not row[1].startswith("data.")
                )
            ],
            "trigger_lists": list_paths(sample),
            "steps": answers,
        }
    )


def _workflow(pk: str) -> Workflow:
    from workflows.admin.common import object_or_404

    return object_or_404(Workflow, pk)


def _sample(workflow: Workflow | None, trigger_key: str, custom_event_type: str) -> Any:
    """The sample the page's trigger gives: the workflow's own when it is unchanged."""
    if workflow is not None and (workflow.trigger_key, workflow.custom_event_type) == (
        trigger_key,
        custom_event_type,
    ):
        return workflow.sample()
    if trigger_key == SCHEDULE_TRIGGER:
        return Workflow(trigger_key=SCHEDULE_TRIGGER).sample()
    try:
        return get_trigger(trigger_key).sample_event(custom_event_type or None)
    except KeyError:
        return {}


def _may_view_runs(model_admin, request: HttpRequest) -> bool:
    """Whether the runs' admin would show ``request.user`` a run (view or change run)."""
    runs_admin = model_admin.admin_site._registry.get(Run)
    if runs_admin is not None:
        return runs_admin.has_view_permission(request)
    return request.user.has_perm("workflows.view_run") or request.user.has_perm(
        "workflows.change_run"
    )


def _step_output(workflow: Workflow | None, item: dict, *, runs: bool) -> tuple[Any, str]:
    """(output, source) of a page's step: its Test a step output, else its latest run's.

    ``runs``: whether the user may see runs' outputs. A run's output is looked up by
    the saved step (``StepRun.step``), never by the name the page sends, so a deleted
    step or another workflow's step gives nothing: (None, "").
    """
    step = _saved_step(workflow, item.get("id"))
    if step is not None and step.sample_output is not None:
        return step.sample_output, "Test a step"
    if runs and step is not None and step.pk is not None:
        done = (
            StepRun.objects.filter(step=step, status=RunStatus.SUCCEEDED)
            .order_by("-finished_at", "-id")
            .values_list("output", flat=True)
            .first()
        )
        if done is not None:
            return done, "a run"
    return None, ""


def _step_paths(item: dict, output: Any, source: str) -> dict[str, Any]:
    """An earlier step's answer: its paths and lists, from ``output`` (None: none known)."""
    name = str(item.get("name", ""))
    paths = [] if output is None else flatten(output, f"steps.{name}")[:MAX_PATHS]
    return {
        "name": name,
        "source": source,
        "paths": [
            {"reference": ref, "path": dotted, "example": example} for ref, dotted, example in paths
        ],
        "lists": [] if output is None else list_paths(output),
    }


def _earlier_outputs(steps: list[dict], outputs: list, position: int) -> dict[str, Any]:
    """The known outputs of the steps before ``steps[position]`` (by order, then place)."""

    def rank(index: int) -> tuple[int, int]:
        order = steps[index].get("order")
        return (order if isinstance(order, int) else 0, index)

    return {
        str(steps[index].get("name", "")): outputs[index][0]
        for index in range(len(steps))
        if rank(index) < rank(position) and outputs[index][0] is not None
    }


def _item_paths(for_each: str, context: dict[str, Any]) -> dict[str, Any]:
    """What a for-each step's input may reference: ``item.<field>`` and ``item_index``.

    ``context``: {"trigger": the sample event, "steps": {name: known output}}. Answer:
    ``{"list": for_each, "count": its length or None, "paths": [{"reference":
    "item_index", ...}, {"reference": "item.price.id", "example": ...}, ...], "note":
    why no item fields are shown, or ""}``. The fields are the list's first item's.
    """
    value = filters.lookup(context, for_each)
    index = {"reference": "item_index", "path": "", "example": "0"}
    if not isinstance(value, list):
        note = (
            f"{for_each} is {_kind(value)} in the sample, not a list: the item's fields "
            "show here once it is one (load a sample event, or Test the earlier step)."
        )
        return {"list": for_each, "count": None, "paths": [index], "note": note}
    note = "" if value else f"{for_each} is empty in the sample: no item fields to show."
    paths = []
    if value:
        paths = flatten(value[0], "item")[:MAX_PATHS] or [("item", "", _example(value[0]))]
    return {
        "list": for_each,
        "count": len(value),
        "paths": [index]
        + [{"reference": ref, "path": dotted, "example": ex} for ref, dotted, ex in paths],
        "note": note,
    }


def _kind(value: Any) -> str:
    """How a message names what a path holds: "missing", "null", "text", "a number"..."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "text"
    return filters.JSON_KINDS.get(type(value), "missing")


def _saved_step(workflow: Workflow | None, pk: Any) -> Step | None:
    """The workflow's step of id ``pk``; None for an unsaved row or another's step."""
    if workflow is None or not str(pk or "").isdigit():
        return None
    return workflow.steps.only("id", "name", "sample_output").filter(pk=int(pk)).first()


def flatten(value: Any, prefix: str) -> list[tuple[str, str, str]]:
    """(reference, dotted path, example) for each leaf of ``value``; lists give their first item.

    The reference is how a mapping names it (``trigger.data.object.lines.data[0].id``,
    ``['a-b']`` for keys that are not identifiers); the dotted path is how a filter
    names it (``data.object.lines.data.0.id``), relative to ``prefix``.
    """
    found: list[tuple[str, str, str]] = []
    if value in ({}, [], None):
        return found
    stack: list[tuple[Any, str, str]] = [(value, prefix, "")]
    while stack and len(found) < MAX_PATHS:
        item, reference, dotted = stack.pop()
        if isinstance(item, dict) and item:
            for key in reversed(list(item)):
                part = f".{key}" if str(key).isidentifier() else f"[{str(key)!r}]"
                stack.append((item[key], reference + part, f"{dotted}.{key}".lstrip(".")))
        elif isinstance(item, list) and item:
            stack.append((item[0], f"{reference}[0]", f"{dotted}.0".lstrip(".")))
        else:
            found.append((reference, dotted, _example(item)))
    return found


def list_paths(value: Any) -> list[dict[str, Any]]:
    """``{"path": dotted, "count": length}`` of each list in ``value``, as ``flatten``
    walks it (a list's first item is followed): what a step may repeat for each of.

    ``path`` is "" when ``value`` itself is a list (a for-each step's output).
    """
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(found) < MAX_PATHS:
        item, dotted = stack.pop()
        if isinstance(item, dict):
            for key in reversed(list(item)):
                stack.append((item[key], f"{dotted}.{key}".lstrip(".")))
        elif isinstance(item, list):
            found.append({"path": dotted, "count": len(item)})
            if item:
                stack.append((item[0], f"{dotted}.0".lstrip(".")))
    return found


def _example(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= _EXAMPLE_LENGTH else text[: _EXAMPLE_LENGTH - 1] + "…"


def urls(model_admin) -> list:
    """The editor's admin URLs, for the workflow admin's ``get_urls``."""
    view = model_admin.admin_site.admin_view
    return [
        path(
            "editor/paths/",
            view(lambda request: paths_view(model_admin, request)),
            name="workflows_editor_paths",
        )
    ]
