"""Field mapping: a step's input is JSON whose strings may reference earlier data.

``{{ trigger.data.object.customer }}`` or ``{{ steps.find_customer.email }}``.
The engine is Jinja2's sandbox (a well-kept engine, not a parser of our own)
with ``StrictUndefined``, so a reference to a missing path is an error, never
an empty string sent to Stripe.

Rules:
- a string that is exactly one ``{{ expression }}`` keeps the expression's type
  (number, object, list, null);
- any other string containing ``{{``/``{%`` renders to a string;
- dicts and lists are rendered item by item; other values are literals;
- a templated value that renders null or empty is left out of the request
  (``render_input``; see "values that render empty" below); a literal ``""``
  is sent, to clear a field.

A for-each step's mapping also sees ``{{ item }}`` (the list's current item) and
``{{ item_index }}`` (its position from 0); no other step may use them. A step skipped
by its condition has no output: ``{{ steps.<skipped>.x }}`` is an error naming the
step and why it was skipped, ``{{ steps.<skipped>.x | default("y") }}`` gives "y".
Any other use of a skipped step's output is an error naming the step too: printing
``{{ steps }}``, writing ``{{ steps | tojson }}`` (no null stands in for it: a skipped
step has no output, which is not the same as an output of null).

``render_mapping`` is what a run uses; ``check_mapping`` is what saving uses
(errors block saving, warnings are doubtful references).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.runtime import Undefined

from stripe_connector.catalog.base import (
    child_path,
    field_path,
    literal_errors,
    value_type_problem,
)
from stripe_connector.jsonbounds import JSONProblem
from stripe_connector.jsonbounds import check as check_json
from workflows.filters import lookup
from workflows.sandbox import (
    BoundedEnvironment,
    MappingLimitError,
    check_input_size,
    check_size,
    check_value,
    render_limits,
)

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_MISSING = object()


class MappingError(ValueError):
    """A mapping could not be rendered; names the input field and the reference."""

    def __init__(self, message: str, *, field: str = "", reference: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reference = reference

    def to_dict(self) -> dict:
        return {
            "type": "mapping_error",
            "message": self.message,
            "param": self.field or None,
            "reference": self.reference or None,
        }


class _DataEnvironment(BoundedEnvironment):
    """The sandbox, with keys of JSON objects winning over Python attributes.

    Stripe objects have keys such as ``items``, ``keys`` and ``values``; plain
    Jinja would resolve ``subscription.items`` to ``dict.items``. Our data is
    JSON, so a key always means the key.
    """

    # Mappings are written by staff, but "{{ 'x' | center(10**9) }}" must not take
    # a worker's memory or time: BoundedEnvironment (workflows/sandbox.py).

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _blank_none(value: Any) -> Any:
    """Inside text a null prints as nothing, never as the word "None"."""
    return "" if value is None else value


ENV = _DataEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_blank_none
)


def _json_default(value: Any) -> Any:
    """``tojson`` of what JSON does not know: a skipped step's output fails naming the
    step (``SkippedStepError``); anything else as JSON itself refuses it."""
    if is_skipped(value):
        value._fail_with_undefined_error()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


ENV.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _json_default}


# Compiling is most of the cost of rendering; a workflow's mappings repeat.
@lru_cache(maxsize=4096)
def _expression(expr: str):
    return ENV.compile_expression(expr, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _template(text: str):
    return ENV.from_string(text)


def is_template(value: Any) -> bool:
    """True when a string contains Jinja markup (and so is not a literal)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def contains_template(value: Any) -> bool:
    """True when ``value`` or anything nested in it is templated."""
    if isinstance(value, dict):
        return any(contains_template(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_template(item) for item in value)
    return is_template(value)


def build_context(trigger: Any, steps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The names a mapping may reference."""
    return {"trigger": trigger, "steps": dict(steps or {})}


# A for-each step's mapping also sees the item and its position from 0.
LOOP_NAMES = ("item", "item_index")


def item_context(context: Mapping[str, Any], item: Any, index: int) -> dict[str, Any]:
    """``context`` with ``{{ item }}`` and ``{{ item_index }}`` (0-based) of a for-each step."""
    return {**context, "item": item, "item_index": index}


class SkippedOutput(ChainableUndefined, StrictUndefined):
    """What ``{{ steps.<name> }}`` is when that step was skipped (its condition did not hold).

    Chainable: ``steps.<name>.a.b | default("x")`` gives the default; strict: any other
    use (printing, also inside a printed object, comparing, iterating, ``tojson``) raises
    SkippedStepError, reported by ``_missing`` / ``_skipped_used`` with the step's name
    and skip reason (``step_name``, ``reason``).
    """

    __slots__ = ("reason", "step_name")

    def __repr__(self) -> str:  # str() of an object holding it: {{ steps }} in text
        self._fail_with_undefined_error()


class SkippedStepError(UndefinedError):
    """A skipped step's output was used as a value; ``marker`` is its ``SkippedOutput``."""

    def __init__(self, message: str | None = None, *, marker: SkippedOutput) -> None:
        super().__init__(message)
        self.marker = marker


def skipped_output(step_name: str, reason: str) -> SkippedOutput:
    """The stand-in for the output of ``step_name``, skipped for ``reason``."""
    marker = SkippedOutput(hint=f"step {step_name} was skipped ({reason.rstrip('.')})")
    marker.step_name, marker.reason = step_name, reason
    marker._undefined_exception = partial(SkippedStepError, marker=marker)
    return marker


def is_skipped(value: Any) -> bool:
    """True for the stand-in of a skipped step's output (``skipped_output``)."""
    return isinstance(value, SkippedOutput)


def render_mapping(mapping: Any, context: Mapping[str, Any], *, path: str = "") -> Any:
    """Render ``mapping`` against ``context``; raises MappingError naming the field."""
    if isinstance(mapping, dict):
        return {
            key: render_mapping(value, context, path=child_path(path, key))
            for key, value in mapping.items()
        }
    if isinstance(mapping, list):
        return [
            render_mapping(item, context, path=child_path(path, index))
            for index, item in enumerate(mapping)
        ]
    if not is_template(mapping):
        return mapping
    with render_limits():  # one deadline for the whole mapping when the caller opened one
        return _render_string(mapping, context, path)


# -- values that render empty ---------------------------------------------------
#
# The one rule: a templated value that renders null, or text that renders empty
# (only whitespace), is LEFT OUT of the request, and the step run records its
# path. A nested key (metadata.source) is left out on its own; an object or a
# list left with nothing but left-out items is left out too. A literal "" written
# in the mapping is sent as it is: that is how a field is cleared in Stripe. A
# default comes from the mapping: {{ steps.find.email | default("unknown", true) }}
# (``true``: null and "" take the default too, not only a missing path).

_LEFT_OUT = object()


@dataclass
class RenderedInput:
    """A rendered mapping: ``values`` for the action, ``left_out`` field paths in mapping order."""

    values: Any
    left_out: list[str] = field(default_factory=list)


def render_input(mapping: Any, context: Mapping[str, Any]) -> RenderedInput:
    """Render ``mapping`` and leave out what rendered empty; raises MappingError.

    The values are at most ``MAX_INPUT_BYTES`` of JSON, checked here before any
    caller writes them out, and hold no text with U+0000 (no database stores it
    in JSON, and Stripe's parameters are text without it).
    """
    left_out: list[str] = []
    values = _leave_out_empty(mapping, render_mapping(mapping, context), "", left_out)
    if values is _LEFT_OUT:
        values = {} if isinstance(mapping, dict) else None
    check_rendered_input(values)
    return RenderedInput(values, left_out)


# What sizing or writing a value as JSON may raise: Python's 4,300-digit bound on
# int-to-text (ValueError), a float too large (OverflowError), nesting (RecursionError).
VALUE_ERRORS = (MappingLimitError, ValueError, OverflowError, RecursionError)


def check_rendered_input(values: Any) -> None:
    """Raise MappingError naming the field when ``values`` cannot be kept or sent as JSON.

    Too large in all (``check_input_size``) names no field; an integer past the
    sandbox's bound, a value JSON cannot write, text holding U+0000 or a lone UTF-16
    surrogate, a number that is not finite, or nesting past the product's JSON bound
    (``stripe_connector.jsonbounds.check``) names the first field holding it.
    """
    try:
        check_input_size(values)
    except VALUE_ERRORS as exc:
        path = _first_failing_field(values)
        raise MappingError(f"{path or 'input'}: {exc}", field=path) from None
    path = _first_nul(values)
    if path is not None:
        raise MappingError(
            f"{path or 'input'}: the rendered text holds U+0000, which cannot be stored or sent.",
            field=path,
        )
    try:  # the bound every JSON the product reads keeps: a rendered "\ud800" too
        check_json(values)
    except JSONProblem as exc:
        raise MappingError(f"{exc.field or 'input'}: {exc.reason}", field=exc.field) from None


def _first_failing_field(values: Any, path: str = "") -> str:
    """The deepest path whose value alone fails ``check_input_size`` ("" when none alone does)."""
    if not isinstance(values, (dict, list)):
        return path
    for key, item in values.items() if isinstance(values, dict) else enumerate(values):
        try:
            check_input_size(item)
        except VALUE_ERRORS:
            return _first_failing_field(item, child_path(path, key))
    return path


def _first_nul(value: Any, path: str = "") -> str | None:
    """The path of the first key or text holding U+0000, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return path
            found = _first_nul(item, child_path(path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_nul(item, child_path(path, index))
            if found is not None:
                return found
    return None


def _leave_out_empty(mapping: Any, rendered: Any, path: str, left_out: list[str]) -> Any:
    """``rendered`` without its empty templated values (``_LEFT_OUT`` when all of it goes)."""
    if isinstance(mapping, dict) and isinstance(rendered, dict):
        kept = {}
        for key, value in rendered.items():
            item = _leave_out_empty(mapping.get(key), value, child_path(path, key), left_out)
            if item is not _LEFT_OUT:
                kept[key] = item
        return _LEFT_OUT if mapping and not kept and len(kept) < len(rendered) else kept
    if isinstance(mapping, list) and isinstance(rendered, list):
        items = [
            _leave_out_empty(item, value, child_path(path, index), left_out)
            for index, (item, value) in enumerate(zip(mapping, rendered, strict=True))
        ]
        kept_items = [item for item in items if item is not _LEFT_OUT]
        return _LEFT_OUT if mapping and not kept_items else kept_items
    if is_template(mapping) and _is_empty(rendered):
        left_out.append(path)
        return _LEFT_OUT
    return rendered


def _is_empty(value: Any) -> bool:
    """Null, or text with nothing but whitespace."""
    return value is None or (isinstance(value, str) and not value.strip())


def refuse_empty_write(action: Any, rendered: RenderedInput) -> None:
    """Raise MappingError when a write would send none of its mapped data.

    For a POST action after fields were left out: when nothing is left but the
    ids in the URL (``/v1/customers/{id}``) and ``expand``, the request would
    write nothing and Stripe would still answer 200. ``action`` is a catalog
    Action (``method``, ``path``, ``fixed_params``, ``mutates``).
    """
    if not rendered.left_out or action.method != "POST" or not action.mutates:
        return
    if action.fixed_params:
        return
    not_data = {*re.findall(r"\{(\w+)\}", action.path), "expand"}
    values = rendered.values if isinstance(rendered.values, dict) else {}
    if any(value is not None for key, value in values.items() if key not in not_data):
        return
    fields = ", ".join(rendered.left_out)
    raise MappingError(
        f"Nothing to write: every mapped field rendered null or empty and was left out "
        f"({fields}). Give a default in the mapping ({{{{ ... | default('value', true) }}}}) "
        'or write "" to clear a field.',
        field=rendered.left_out[0],
    )


def _single_expression(text: str) -> str | None:
    """The expression when ``text`` is exactly one ``{{ ... }}``, else None."""
    match = _SINGLE_EXPRESSION.match(text)
    if not match:
        return None
    expr = match.group("expr")
    # "{{ a }} and {{ b }}" also matches the pattern; it is text, not one value.
    if "{{" in expr or "}}" in expr or "{%" in expr:
        return None
    return expr.strip()


def _render_string(text: str, context: Mapping[str, Any], path: str) -> Any:
    expr = _single_expression(text)
    try:
        if expr is not None:
            value = _expression(expr)(**context)
            if isinstance(value, Undefined):
                raise _missing(expr, path, context)
            # The same bound as each output of a text template (the sandbox's finalize).
            check_value(value, "the value")
            _refuse_skipped_inside(value)
            return value
        rendered = _template(text).render(**context)
        check_size(len(rendered), "the rendered text")
        return rendered
    except TemplateSyntaxError as exc:
        raise MappingError(f"{path or 'value'}: syntax error: {exc.message}", field=path) from None
    except SkippedStepError as exc:
        reference = first_missing_reference(text, context) or ""
        if skipped_step(reference, context) is exc.marker:
            raise _missing(reference, path, context) from None
        raise _skipped_used(exc.marker, path, f"{{{{ {expr} }}}}" if expr else text) from None
    except UndefinedError:
        reference = first_missing_reference(text, context) or (expr or text)
        raise _missing(reference, path, context) from None
    except MappingError:
        raise
    except Exception as exc:  # a filter or operator failing on the data (e.g. "a" + 1)
        raise MappingError(f"{path or 'value'}: {exc}", field=path) from None


def _missing(reference: str, path: str, context: Mapping[str, Any] | None = None) -> MappingError:
    """The error for a reference that does not resolve; one to a skipped step says so."""
    skipped = skipped_step(reference, context or {})
    if skipped is not None:
        message = (
            f"{path or 'value'}: {{{{ {reference} }}}}: step {skipped.step_name} was skipped "
            f"({skipped.reason.rstrip('.')}): its output does not exist; give a default: "
            f'{{{{ {reference} | default("...") }}}}'
        )
        return MappingError(message, field=path, reference=reference)
    message = f"{path or 'value'}: {{{{ {reference} }}}} does not exist in the data"
    return MappingError(message, field=path, reference=reference)


def _skipped_used(marker: SkippedOutput, path: str, text: str) -> MappingError:
    """The error for a skipped step's output used inside a larger value (``{{ steps }}``,
    ``{{ steps | tojson }}``): the step, why it was skipped, what to write instead."""
    shown = text if len(text) <= 100 else text[:99] + "…"
    message = (
        f"{path or 'value'}: {shown} uses the output of step "
        f"{marker.step_name}, which was skipped ({marker.reason.rstrip('.')}): it has no "
        f"output to write; refer to the steps that ran, or give a default: "
        f'{{{{ steps.{marker.step_name} | default("...") }}}}'
    )
    return MappingError(message, field=path, reference=f"steps.{marker.step_name}")


def _refuse_skipped_inside(value: Any) -> None:
    """SkippedStepError when a list or object (a single expression's value, such as
    ``{{ steps }}``) holds a skipped step's output at any depth."""
    stack = [value]
    while stack:
        current = stack.pop()
        if is_skipped(current):
            current._fail_with_undefined_error()
        if isinstance(current, Mapping):
            stack.extend(current.values())
        elif isinstance(current, (list, tuple)):
            stack.extend(current)


_STEP_REFERENCE = re.compile(r"""^steps(?:\.(\w+)|\[['"](\w+)['"]\])""")


def skipped_step(reference: str, context: Mapping[str, Any]) -> SkippedOutput | None:
    """The skipped step ``reference`` starts at (``steps.<name>...``, ``steps['name']``)
    in ``context`` ({"steps": outputs with ``skipped_output`` stand-ins}), or None."""
    match = _STEP_REFERENCE.match(reference.strip())
    steps = context.get("steps")
    if match is None or not isinstance(steps, Mapping):
        return None
    value = steps.get(match.group(1) or match.group(2))
    return value if is_skipped(value) else None


# -- references ---------------------------------------------------------------


def references(text: str) -> list[str]:
    """Dotted paths referenced by a template string, e.g. ``trigger.data.object.id``.

    Each maximal chain of attribute / constant-index lookups from a name counts
    once; names bound inside the template (``{% for x in ... %}``) do not.
    Raises TemplateSyntaxError for broken markup.
    """
    tree = ENV.parse(text)
    bound = {node.name for node in tree.find_all(nodes.Name) if node.ctx != "load"}
    found: list[str] = []
    _collect(tree, found)
    return [ref for ref in found if re.split(r"[.\[]", ref, maxsplit=1)[0] not in bound]


def _collect(node: nodes.Node, found: list[str]) -> None:
    dotted = _dotted(node) if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name)) else None
    if dotted is not None:
        if dotted not in found:
            found.append(dotted)
        return
    for child in node.iter_child_nodes():
        _collect(child, found)


def _dotted(node: nodes.Node) -> str | None:
    """``a.b[0]["c d"]`` for a lookup chain rooted at a loaded name, else None."""
    suffix = ""
    while not isinstance(node, nodes.Name):
        if isinstance(node, nodes.Getattr):
            suffix = f".{node.attr}{suffix}"
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            suffix = f"[{node.arg.value!r}]{suffix}"
        else:
            return None
        node = node.node
    return f"{node.name}{suffix}" if node.ctx == "load" else None


def resolve(reference: str, context: Mapping[str, Any]) -> Any:
    """The value of one reference, or ``_MISSING``."""
    try:
        value = _expression(reference)(**context)
    except UndefinedError:
        return _MISSING
    except (TypeError, LookupError):
        return _MISSING
    return _MISSING if isinstance(value, Undefined) else value


def first_missing_reference(text: str, context: Mapping[str, Any]) -> str | None:
    """The first reference in ``text`` that does not resolve in ``context``."""
    try:
        refs = references(text)
    except TemplateSyntaxError:
        return None
    return next((ref for ref in refs if resolve(ref, context) is _MISSING), None)


# -- checking at save time ----------------------------------------------------


@dataclass
class MappingReport:
    """What saving found: errors block saving, warnings are shown."""

    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, field_path: str, message: str) -> None:
        self.errors.append({"field": field_path, "message": message})

    def warn(self, field_path: str, message: str) -> None:
        self.warnings.append({"field": field_path, "message": message})


class AnyValue:
    """Stands in for an earlier step's output at save time: every path exists."""

    def __getattr__(self, name: str) -> AnyValue:
        return self

    def __getitem__(self, key: Any) -> AnyValue:
        return self

    def __str__(self) -> str:
        return ""

    def __iter__(self) -> Iterator[Any]:
        # Without it Python iterates through __getitem__ forever ("| join" at save never ends).
        return iter(())


def check_mapping(
    mapping: Any,
    input_schema: Mapping[str, Any],
    *,
    sample_trigger: Any = None,
    earlier_steps: list[str] | tuple[str, ...] = (),
    for_each: str = "",
) -> MappingReport:
    """Check a mapping against the action's input schema and the trigger's sample.

    Errors: not an object, unknown fields, missing required fields, literals of
    the wrong type, template syntax errors, references to steps that are not
    earlier, ``{{ item }}`` / ``{{ item_index }}`` in a step without ``for_each``,
    literals Stripe would refuse (converted as at run time: bracketed
    metadata keys, exclusive fields, missing companions). Warnings: trigger paths
    absent from the sample event, item paths absent from the sample list's first
    item, sample values of a type the field cannot take.

    ``for_each`` is the step's for-each path ("" : runs once). ``{{ item }}`` is
    then the first item of that list in the sample when the path resolves there
    to a list with items (a trigger path), else a stand-in where every path exists.
    """
    report = MappingReport()
    if not isinstance(mapping, dict):
        report.error("", "The input mapping must be a JSON object.")
        return report
    _check_schema(mapping, input_schema, report)
    context = build_context(sample_trigger, {name: AnyValue() for name in earlier_steps})
    if for_each:
        context = item_context(context, _sample_item(context, for_each), 0)
    taken = _fields_taken(mapping, input_schema)
    # One deadline and size budget for every template of the save (re-entrant:
    # services.check_steps opens one for all the steps), not one per template.
    with render_limits():
        for path, text in _template_strings(mapping):
            render = path.split(".", 1)[0].split("[", 1)[0] in taken
            _check_template(path, text, context, sample_trigger is not None, report, render)
        if sample_trigger is not None:
            _warn_sample_types(mapping, input_schema, context, report, taken)
    return report


def _sample_item(context: dict, for_each: str) -> Any:
    """The first item of the for-each list in the sample, or ``AnyValue()`` when unknown."""
    items = lookup(context, for_each)
    if isinstance(items, list) and items:
        return items[0]
    return AnyValue()


def _fields_taken(mapping: dict, schema: Mapping[str, Any]) -> set[str]:
    """The top-level fields of ``mapping`` the action takes (its unknown fields are errors)."""
    properties = schema.get("properties", {})
    if properties or schema.get("additionalProperties") is False:
        return {key for key in mapping if key in properties}
    return set(mapping)


def _check_schema(mapping: dict, schema: Mapping[str, Any], report: MappingReport) -> None:
    properties = schema.get("properties", {})
    if properties or schema.get("additionalProperties") is False:
        for key in mapping:
            if key not in properties:
                report.error(key, f"Unknown field {key!r} for this action.")
    for key in schema.get("required", []):
        if key not in mapping or mapping[key] in (None, ""):
            report.error(key, f"{key!r} is required.")
    # Literals are converted and checked as a run would (the catalog's one rule
    # for values), so what a run would refuse is refused here already.
    templated = [key for key, value in mapping.items() if contains_template(value)]
    literals = {k: v for k, v in mapping.items() if k in properties and k not in templated}
    for problem in literal_errors(dict(schema), literals, templated=templated):
        report.error(problem["field"], problem["message"])


def _warn_sample_types(
    mapping: dict, schema: Mapping[str, Any], context: dict, report: MappingReport, taken: set[str]
) -> None:
    """Warn when a single reference's sample value is of a type its field cannot take.

    Only references with a known sample value count (the trigger's sample event);
    the value is converted first, as a run would (1099 into a text field is fine).
    """
    for parts, text in _template_parts(mapping):
        if parts[0] not in taken:
            continue
        expr = _single_expression(text)
        value = _sample_value(expr, context) if expr else _MISSING
        if value is _MISSING or value is None:
            continue
        problem = value_type_problem(dict(schema), parts, value)
        if problem:
            kind = type(value).__name__
            report.warn(
                field_path(parts), f"{{{{ {expr} }}}} is a {kind} in the sample: {problem}."
            )


def _sample_value(expr: str, context: dict) -> Any:
    """The expression's value against the sample, or _MISSING when it has none yet."""
    try:
        with render_limits():
            value = _expression(expr)(**context)
    except Exception:  # a broken or unresolvable reference is reported elsewhere
        return _MISSING
    return _MISSING if isinstance(value, (Undefined, AnyValue)) else value


def _template_parts(value: Any, parts: tuple = ()) -> Iterator[tuple[list, str]]:
    """(path parts, text) of each template string, e.g. (["items", 0, "price"], "{{ x }}")."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _template_parts(item, (*parts, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_parts(item, (*parts, index))
    elif is_template(value):
        yield list(parts), value


def _template_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _template_strings(item, child_path(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_strings(item, child_path(path, index))
    elif is_template(value):
        yield path, value


def _limit_problem(text: str, context: dict) -> str | None:
    """At save: the sandbox bound the template exceeds against the sample, if any.

    Other failures (a reference the sample lacks, a filter failing on it) are
    reported elsewhere or left to the run, where the real data decides.
    """
    expr = _single_expression(text)
    try:
        with render_limits():
            _expression(expr)(**context) if expr is not None else _template(text).render(**context)
    except MappingLimitError as exc:
        return f"Too large for a mapping: {exc}"
    except Exception:
        return None
    return None


def _check_template(
    path: str, text: str, context: dict, have_sample: bool, report: MappingReport, render: bool
) -> None:
    """Syntax and references of one template; rendered against the sample when ``render``."""
    try:
        refs = references(text)
    except TemplateSyntaxError as exc:
        report.error(path, f"Syntax error: {exc.message}")
        return
    problem = _limit_problem(text, context) if render else None
    if problem:
        report.error(path, problem)
    looping = "item" in context
    for ref in refs:
        root = ref.split(".", 1)[0].split("[", 1)[0]
        if root in LOOP_NAMES and not looping:
            report.error(
                path,
                f"{{{{ {ref} }}}}: only a for-each step has an item; set the step's for each "
                "(a list to repeat it for), or reference trigger or steps.",
            )
        elif root not in ("trigger", "steps", *LOOP_NAMES):
            names = "'trigger', 'steps', 'item' and 'item_index'" if looping else None
            names = names or "'trigger' and 'steps'"
            report.error(path, f"{{{{ {ref} }}}}: only {names} can be referenced.")
        elif root == "item" and not isinstance(context["item"], AnyValue):
            if resolve(ref, context) is _MISSING:
                report.warn(path, f"{{{{ {ref} }}}} is not in the first item of the sample's list.")
        elif root == "steps" and resolve(ref, context) is _MISSING:
            report.error(path, f"{{{{ {ref} }}}} does not name an earlier step.")
        elif root == "trigger" and have_sample and resolve(ref, context) is _MISSING:
            report.warn(path, f"{{{{ {ref} }}}} is not in the trigger's sample event.")
