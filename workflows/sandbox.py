"""The bounds of the field-mapping sandbox: memory, CPU time and output size.

Mappings are written by staff, but one expression must never take a worker's
memory or time (``{{ 'x' | center(10**9) }}``, ``{{ ((10**1000)**1000)**100 }}``).
Five layers, each cheap on a normal mapping:

1. Statically, when a template is parsed (at save and at render: ``_parse``
   and ``compile_expression``), its shape is bounded first (``check_shape``:
   length, nesting, operators per tag, so Jinja's recursive parser never runs
   out of stack), then only expressions and ``{% if %}`` are allowed, and only
   the filters and tests in ``ALLOWED_FILTERS``/``ALLOWED_TESTS``. Loops,
   ``set``, macros, blocks, includes and imports are refused: a field's value
   does not need them (``map``/``join`` filters cover lists), and they are
   what makes sizes double in a loop.
2. Every operation that can multiply a size is predicted before it runs and
   refused past ``MAX_VALUE_CHARS``: ``*`` and ``+`` on text and lists, ``**``
   and ``*`` on integers (by bit length), the ``int`` filter (by digits and
   base), ``int.from_bytes``, ``round``'s precision, any arithmetic operator,
   filter or test given an integer past ``MAX_INT_BITS``, ``%`` formatting (widths and
   precisions), ``~`` concatenation, the filters that pad, repeat, fill or
   turn a value into text (``PREDICTIONS``) and the string methods that do
   (center, ljust, rjust, zfill, replace, join, split); ``str.format``,
   expandtabs, translate and mutating list/dict methods are refused.
3. What is built is counted, whatever built it: every filter's and method's
   result, each ``{{ output }}`` of a text template and the value of a single
   ``{{ expression }}`` go through ``size_of`` (the JSON size of the object,
   a value reached twice counted twice; an integer past ``MAX_INT_BITS``
   anywhere in it is refused) before they are handed on; a
   generator (map, select, batch...) is counted item by item as it is
   collected. Everything counts against ``RENDER_BUDGET_CHARS`` too.
4. The rendered input of a step is at most ``MAX_INPUT_BYTES`` of JSON
   (``check_input_size``), estimated before it is ever written as JSON.
5. A deadline, ``MAX_RENDER_SECONDS`` per step run (and per save, for all its
   templates): every sandbox hook (operators, calls, attribute lookups,
   filters, tests, items collected, output) checks it, so even an expression
   these rules did not foresee stops. With integers bounded, no single
   operation between two checks runs long (big-integer division was seconds).

All refusals raise ``MappingLimitError`` (a jinja2 SecurityError); the mapping
module turns it into a MappingError naming the field.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import (
    Callable,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    Sized,
    ValuesView,
)
from contextlib import contextmanager
from itertools import chain
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Stripe does not publish a maximum request size in its API reference; a step's
# input is form-encoded parameters whose documented limits are small (metadata:
# 50 keys of 40 characters, values of 500; descriptions and the like: 5,000
# characters), so 1 MB of JSON is far above any real input and far below what
# hurts a worker.
MAX_INPUT_BYTES = 1_000_000
# No single value computed inside a mapping may be larger than a whole input.
MAX_VALUE_CHARS = MAX_INPUT_BYTES
# What one render may produce in all (the sum of every checked result).
RENDER_BUDGET_CHARS = 8 * MAX_INPUT_BYTES
# Stripe amounts have at most 12 digits; 4,000 bits (about 1,200 digits) is plenty.
MAX_INT_BITS = 4_000
# Items a filter may create out of nothing (batch/slice fill, range).
MAX_ITEMS = 100_000
MAX_RENDER_SECONDS = 2.0
# The shape of one template (see check_shape): a field's template is a line or
# a paragraph, far below these.
MAX_TEMPLATE_CHARS = 20_000
MAX_NESTING = 16
MAX_OPERATORS = 64

# Statements a field mapping may use; anything else is refused when parsed.
ALLOWED_STATEMENTS = (nodes.Output, nodes.If)
# How staff wrote the refused ones (jinja2's node names differ for some).
KEYWORDS = {"Assign": "set", "AssignBlock": "set", "FromImport": "import", "CallBlock": "call"}
KEYWORDS.update(
    {"FilterBlock": "filter", "ExprStmt": "do", "ScopedEvalContextModifier": "autoescape"}
)


class MappingLimitError(SecurityError):
    """A mapping went past one of the sandbox's bounds (the message says which)."""


# -- the budget of one render ---------------------------------------------------


class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.spent = 0


_local = threading.local()


@contextmanager
def render_limits() -> Iterator[None]:
    """One deadline and one size budget for everything rendered inside (re-entrant).

    The engine opens it around a step's whole mapping; a field rendered on its
    own (at save, in tests) gets its own.
    """
    if getattr(_local, "budget", None) is not None:
        yield
        return
    _local.budget = _Budget()
    try:
        yield
    finally:
        _local.budget = None


def _budget() -> _Budget:
    # Outside render_limits() (a reference resolved at save) only the per-value
    # bounds apply: a fresh budget per check, never one left behind.
    return getattr(_local, "budget", None) or _Budget()


def check_time() -> None:
    """Raise MappingLimitError when the render's deadline has passed."""
    if time.monotonic() > _budget().deadline:
        raise MappingLimitError(
            f"the mapping took longer than {MAX_RENDER_SECONDS:g} s to render and was stopped."
        )


def spend(chars: int, what: str) -> None:
    """Refuse a result predicted at ``chars`` characters, or past the render's budget."""
    check_size(chars, what)
    budget = _budget()
    budget.spent += chars
    if budget.spent > RENDER_BUDGET_CHARS:
        raise MappingLimitError(
            f"the mapping produced more than {RENDER_BUDGET_CHARS:,} characters in all."
        )


def check_size(chars: int, what: str) -> None:
    """Refuse a value of ``chars`` characters past ``MAX_VALUE_CHARS`` (no budget spent)."""
    check_time()
    if chars > MAX_VALUE_CHARS:
        raise MappingLimitError(
            f"{what} would be about {chars:,} characters; at most {MAX_VALUE_CHARS:,}."
        )


def check_value(value: Any, what: str) -> Any:
    """Spend ``value``'s counted size (``size_of``) on the render and return it.

    What a filter, a method or a single ``{{ expression }}`` hands back goes
    through here, so no object larger than the bounds leaves the sandbox.
    """
    spend(size_of(value), what)
    return value


def as_text(value: Any, what: str) -> str:
    """``str(value)``, its size predicted from the counted size first, then checked.

    Escapes (repr, JSON) can make text up to about ten times the counted size,
    so the most one conversion builds before it is refused is ~10 M characters.
    """
    if isinstance(value, str):
        return value
    check_size(size_of(value), what)
    text = str(value)
    check_size(len(text), what)
    return text


_CONTAINERS = (Mapping, list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)


def size_of(value: Any, limit: int = MAX_VALUE_CHARS, indent: int = 0) -> int:
    """The size of ``value`` as JSON text, roughly (characters); stops counting past ``limit``.

    Counts what a conversion to text would write: a value reached twice (a list
    holding one string 1,000 times) is counted each time. A string counts its
    length, an item 2 more (quotes or a separator); ``indent`` adds a line and
    its indentation per item, as ``tojson(indent=...)`` writes them. Depth-first
    with one iterator per level, so its memory grows with depth, not breadth.
    """
    total = _scalar_size(value)
    if total is not None:
        return total
    total = _container_size(value, 0, indent)
    stack = [(_children(value), 1)]
    while stack and total <= limit:
        children, depth = stack[-1]
        for child in children:
            size = _scalar_size(child)
            if size is None:
                total += _container_size(child, depth, indent)
                stack.append((_children(child), depth + 1))
                break
            total += size
            if total > limit:
                break
        else:
            stack.pop()
    return total


def _scalar_size(value: Any) -> int | None:
    """The text size of a value that holds no others; None for a container."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        bits = value.bit_length()
        check_int_bits(bits, "an integer")
        return len(str(value)) if bits < 64 else bits * 3 // 10 + 2
    if isinstance(value, float):
        return len(repr(value))
    if isinstance(value, range):
        widest = max(abs(value.start), abs(value.stop))
        return 2 + len(value) * (len(str(widest)) + 3)
    if isinstance(value, _CONTAINERS):
        return None
    return 24


def _container_size(value: Any, depth: int, indent: int) -> int:
    """Brackets, separators (and with ``indent`` lines) of a container; not its items."""
    count = len(value) * 2 if isinstance(value, Mapping) else len(value)
    return 2 + count * (2 + (1 + indent * (depth + 1) if indent else 0))


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        return chain.from_iterable(value.items())
    return iter(value)


def check_input_size(value: Any) -> None:
    """Refuse an input larger than ``MAX_INPUT_BYTES`` of JSON (raises MappingLimitError).

    Estimated first (``size_of`` stops early), so an oversized input is refused
    before it is ever written out as JSON.
    """
    size = size_of(value, MAX_INPUT_BYTES)
    if size <= MAX_INPUT_BYTES:
        size = len(json.dumps(value, default=str).encode())
    if size > MAX_INPUT_BYTES:
        raise MappingLimitError(
            f"the rendered input is {size:,} bytes of JSON; at most {MAX_INPUT_BYTES:,}."
        )


# -- predicting operators -------------------------------------------------------

_SIZED = (str, bytes, list, tuple)
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def check_int_bits(bits: int, what: str) -> None:
    """Refuse an integer of ``bits`` bits past ``MAX_INT_BITS`` (raises MappingLimitError)."""
    if bits > MAX_INT_BITS:
        raise MappingLimitError(
            f"{what} would have about {bits:,} bits; integers have at most {MAX_INT_BITS:,}."
        )


def check_int_arguments(values: Any, what: str) -> None:
    """Refuse before an operation runs when any integer given to it is past ``MAX_INT_BITS``.

    Division, remainder and comparison of integers of millions of bits take
    seconds in one uninterruptible step; integers only reach the sandbox
    within bounds, and this keeps them there whatever they came from.
    """
    for value in values:
        if _is_int(value):
            check_int_bits(value.bit_length(), what)


def predict_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` when its result would be too large."""
    check_time()
    check_int_arguments((left, right), f"an operand of {operator}")
    if operator == "**" and _is_int(left) and _is_int(right):
        if right > 0 and abs(left) > 1:  # |left|**right has floor(right * log2|left|) + 1 bits
            check_int_bits(math.floor(right * math.log2(abs(left))) + 1, "a power")
    elif operator == "*" and _is_int(left) and _is_int(right):
        check_int_bits(left.bit_length() + right.bit_length(), "a product")
    elif operator == "*":
        sized, times = (left, right) if isinstance(left, _SIZED) else (right, left)
        if isinstance(sized, _SIZED) and _is_int(times) and times > 0:
            spend(size_of(sized) * times, "a repeated value")
    elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        spend(size_of(left) + size_of(right), "a joined value")
    elif operator == "%" and isinstance(left, str):
        predict_format(left, right)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def predict_format(template: str, args: Any) -> None:
    """Refuse ``template % args`` when a width or precision (or the result) is too large."""
    values = list(args) if isinstance(args, tuple) else [args]
    total = len(template) + size_of(args)
    for width, precision, _ in _FORMAT_SPEC.findall(template):
        for part in (width, precision):
            if part == "*":
                star = values.pop(0) if values else 0
                total += abs(star) if _is_int(star) else 0
            elif part:
                total += int(part)
    spend(total, "a formatted value")


# -- the filters and tests a mapping may use ---------------------------------------
#
# An allow-list: a filter or test that is not named here is refused when the
# template is parsed, and is not in the environment at all (``map('x')`` looks
# filters up by name at run time). Left out: what formats documents rather than
# a field's value (indent, wordwrap, pprint, urlize, xmlattr, filesizeformat,
# striptags, wordcount), escaping (e, escape, forceescape, safe, urlencode),
# attr (dotted lookups do it) and random (a retry must send the same input).

ALLOWED_FILTERS = frozenset(
    {
        # text
        "capitalize", "center", "format", "join", "lower", "replace", "string",
        "title", "tojson", "trim", "truncate", "upper",
        # values
        "abs", "d", "default", "float", "int", "round",
        # lists and objects
        "batch", "count", "dictsort", "first", "groupby", "items", "last", "length",
        "list", "map", "max", "min", "reject", "rejectattr", "reverse", "select",
        "selectattr", "slice", "sort", "sum", "unique",
    }
)  # fmt: skip
ALLOWED_TESTS = frozenset(
    {
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
        "number", "string", "mapping", "sequence", "iterable", "odd", "even",
        "divisibleby", "in", "lower", "upper", "sameas", "eq", "ne", "lt", "le", "gt",
        "ge", "==", "!=", "<", "<=", ">", ">=", "equalto", "greaterthan", "lessthan",
    }
)  # fmt: skip


def _width(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return int(value) if _is_int(value) else 0


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else size_of(value)


def _check_items(count: Any, what: str) -> None:
    if not _is_int(count) or not 0 < count <= MAX_ITEMS:
        raise MappingLimitError(f"{what}: the count must be between 1 and {MAX_ITEMS:,}.")


# Predictions of the filters whose result can be much larger than their
# arguments, each called with the filter's own arguments (without the context or
# environment Jinja passes first) before the filter runs.


def _predict_center(value: Any, width: Any = 80) -> None:
    check_size(max(_text_size(value), _width(width)), "center")


def _predict_format(value: Any, *args: Any, **kwargs: Any) -> None:
    predict_format(as_text(value, "format"), tuple(args) or kwargs)


def _predict_join(value: Any, d: Any = "", attribute: Any = None) -> None:
    count = len(value) if isinstance(value, Sized) else 0
    check_size(size_of(value) + _text_size(d) * count, "join")


def _predict_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = as_text(s, "replace"), str(old), str(new)
    hits = (text.count(old) if old else len(text) + 1) if len(new) > len(old) else 0
    if count is not None and _is_int(count) and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)), "replace")


def _predict_batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
    _check_items(linecount, "batch")
    if fill_with is not None:
        check_size(size_of(value) + (size_of(fill_with) + 2) * (linecount - 1), "batch")


def _predict_slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    _check_items(slices, "slice")
    if fill_with is not None:
        check_size(size_of(value) + (size_of(fill_with) + 2) * slices, "slice")


def _predict_tojson(value: Any, indent: Any = None) -> None:
    if indent is not None and (not _is_int(indent) or not 0 <= indent <= 8):
        raise MappingLimitError("tojson: indent must be between 0 and 8.")
    check_size(size_of(value, indent=indent or 0), "tojson")


def _predict_string(value: Any) -> None:
    check_size(_text_size(value), "string")


def _predict_list(value: Any) -> None:
    # A string becomes one item per character: ["a", "b", ...] is 3 characters each.
    if isinstance(value, str):
        check_size(2 + 3 * len(value), "list")


_PREFIXES = {"0x": 16, "0o": 8, "0b": 2}


def _predict_int(value: Any, default: Any = 0, base: Any = 10) -> None:
    """Refuse text whose integer would be past ``MAX_INT_BITS``, before ``int()`` reads it.

    Counts the significant digits (no sign, prefix, underscores or leading
    zeros) at ``log2(base)`` bits each; base 0 reads the base from the prefix.
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or not _is_int(base):
        return
    digits = value.strip().lstrip("+-").lower()
    prefix_base = _PREFIXES.get(digits[:2])
    if prefix_base is not None and base in (0, prefix_base):
        digits, base = digits[2:], prefix_base
    if not 2 <= base <= 36:
        base = 10  # base 0 without prefix is decimal; an invalid base fails in int()
    significant = len(digits.replace("_", "").lstrip("0"))
    check_int_bits(math.ceil(significant * math.log2(base)), "the int filter's result")


def _predict_round(value: Any, precision: Any = 0, method: Any = "common") -> None:
    # round(1.5, 10**9, "ceil") computes 10**precision: refused as such a power would be.
    if _is_int(precision):
        check_int_bits(math.ceil(abs(precision) * math.log2(10)), "round's precision")


def _predict_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, (int, float)) or isinstance(start, bool):
        raise MappingLimitError("sum: only numbers can be summed in a mapping.")


PREDICTIONS: dict[str, Callable[..., None]] = {
    "center": _predict_center,
    "format": _predict_format,
    "join": _predict_join,
    "replace": _predict_replace,
    "batch": _predict_batch,
    "slice": _predict_slice,
    "tojson": _predict_tojson,
    "string": _predict_string,
    "list": _predict_list,
    "sum": _predict_sum,
    "int": _predict_int,
    "round": _predict_round,
}


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a Jinja filter) predicted first when it can grow, its result checked.

    The result is what the filter built: a generator (map, select, batch...) is
    collected into a list item by item, each item counted as it comes (the
    deadline checked too), so a list of 100,000 references to a 1 MB string is
    refused at its second item; anything else is counted whole (``check_value``).
    """
    predict = PREDICTIONS.get(name)
    pass_arg = getattr(function, "jinja_pass_arg", None)
    what = f"the {name} filter"

    def bounded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        check_int_arguments(chain(args, kwargs.values()), what)
        if predict is not None:
            predict(*(args[1:] if pass_arg else args), **kwargs)
        return checked_result(function(*args, **kwargs), what)

    if pass_arg is not None:
        bounded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return bounded


def bounded_test(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a Jinja test) run only on integers within ``MAX_INT_BITS``, in time."""
    pass_arg = getattr(function, "jinja_pass_arg", None)
    what = f"the {name} test"

    def bounded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        check_int_arguments(chain(args, kwargs.values()), what)
        return function(*args, **kwargs)

    if pass_arg is not None:
        bounded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return bounded


def checked_result(result: Any, what: str) -> Any:
    """``result`` counted against the bounds (an iterator collected into a list first)."""
    if not isinstance(result, Iterator):
        return check_value(result, what)
    items, total = [], 2
    for item in result:
        check_time()
        total += size_of(item, MAX_VALUE_CHARS - total) + 2
        check_size(total, what)
        items.append(item)
    spend(total, what)
    return items


def predict_method(obj: Any, name: str, args: tuple, kwargs: dict) -> None:
    """Refuse a str/bytes method call whose result would be too large.

    The result of every call is counted afterwards too (``checked_result``);
    these are the methods that can build far more than they were given.
    """
    if name in ("center", "ljust", "rjust", "zfill"):
        check_size(max(len(obj), _width(args[0]) if args else 0), name)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, type(obj)) and isinstance(new, type(obj)) and len(new) > len(old):
            hits = obj.count(old) if old else len(obj) + 1
            check_size(len(obj) + hits * (len(new) - len(old)), "replace")
    elif name == "join" and args:
        count = len(args[0]) if isinstance(args[0], Sized) else 0
        check_size(size_of(args[0]) + len(obj) * count, "join")
    elif name in ("split", "rsplit", "splitlines"):
        # One item per separator at most; as JSON each item adds about 4 characters.
        sep = args[0] if args else kwargs.get("sep")
        if name == "splitlines":
            parts = len(obj) + 1
        else:
            parts = obj.count(sep) + 1 if sep else len(obj) // 2 + 1
        check_size(len(obj) + 4 * parts, name)
    elif name == "from_bytes" and args and isinstance(args[0], (bytes, bytearray)):
        check_int_bits(len(args[0]) * 8, "from_bytes()")
    elif name in ("expandtabs", "translate", "format", "format_map"):
        raise MappingLimitError(f"the {name}() method is not allowed in a mapping.")


# -- the environment ------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """``~`` concatenation goes through the environment, which predicts its size."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with the bounds above (see the module docstring).

    ``finalize`` (a plain one-argument function) runs before each output's size
    is checked.
    """

    code_generator_class = _BoundedCodeGenerator
    # Every arithmetic operator: each checks its integer operands (predict_binop).
    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "//", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["finalize"] = _bounded_finalize(kwargs.get("finalize"))
        super().__init__(*args, **kwargs)
        self.filters = {name: bounded_filter(name, self.filters[name]) for name in ALLOWED_FILTERS}
        self.tests = {name: bounded_test(name, self.tests[name]) for name in ALLOWED_TESTS}
        # lipsum(10**9), cycler, joiner and namespace are not for a field's value.
        for name in ("lipsum", "cycler", "joiner", "namespace"):
            self.globals.pop(name, None)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        check_shape(self, source, name, filename)
        with _nesting_guard(name, filename):
            tree = super()._parse(source, name, filename)
        check_nodes(tree, name, filename)
        return tree

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> Any:
        """Jinja's own (which does not go through ``_parse``), with the same checks."""
        check_shape(self, source, None, None, state="variable")
        with _nesting_guard(None, None):
            parser = Parser(self, source, state="variable")
            expr = parser.parse_expression()
            if not parser.stream.eos:
                lineno = parser.stream.current.lineno
                raise TemplateSyntaxError("chunk after expression", lineno, None, None)
        check_nodes(expr, None, None)
        expr.set_environment(self)
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        template = self.from_string(nodes.Template(body, lineno=1))
        return TemplateExpression(template, undefined_to_none)

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        with _nesting_guard(None, None):
            return super()._generate(source, *args, **kwargs)

    def _compile(self, source: str, filename: str) -> Any:
        with _nesting_guard(None, None):
            return super()._compile(source, filename)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        predict_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        if operator == "%" and isinstance(result, str):  # repr of a list was not predicted
            check_size(_text_size(result), "a formatted value")
        elif _is_int(result):  # a sum or difference may gain a bit
            check_int_bits(result.bit_length(), f"the result of {operator}")
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_time()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        check_int_arguments(chain((owner,), args, kwargs.values()), f"{name or 'a call'}()")
        if isinstance(owner, (str, bytes)) or owner is int:
            predict_method(owner, name, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return checked_result(result, f"{name or 'a call'}()")

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> None:
        # str.format computes widths out of our sight: refused (the format filter is bounded).
        if super().wrap_str_format(value) is not None:
            raise MappingLimitError("the format() method is not allowed in a mapping.")
        return None

    def bounded_concat(self, parts: tuple) -> str:
        texts = [as_text(part, "a ~ concatenation") for part in parts]
        spend(sum(len(text) for text in texts), "a ~ concatenation")
        return "".join(texts)


def _bounded_finalize(finalize: Callable[[Any], Any] | None) -> Callable[[Any], str]:
    """Each ``{{ output }}`` of a text template: ``finalize`` first, then its text counted."""

    def bounded(value: Any) -> str:
        text = as_text(value if finalize is None else finalize(value), "an output")
        spend(len(text), "an output")
        return text

    return bounded


# -- the shape of a template ------------------------------------------------------
#
# Jinja's parser and code generator recurse once or more per level of nesting,
# and Python's compiler refuses more than 200 nested brackets in the generated
# code: "((((...1))))" 3,000 deep, "| string" 3,000 times or "not not ..." end in
# RecursionError. The tokens (read without recursion) are counted first.

_OPENING = frozenset({"lparen", "lbracket", "lbrace"})
_CLOSING = frozenset({"rparen", "rbracket", "rbrace"})
# Each of these can add a level to the expression's tree.
_OPERATOR_TOKENS = frozenset(
    {"add", "sub", "mul", "div", "floordiv", "mod", "pow", "tilde", "pipe", "dot"}
    | {"eq", "ne", "gt", "gteq", "lt", "lteq"}
)
_OPERATOR_WORDS = frozenset({"not", "and", "or", "is", "in", "if", "else"})
_TAG_STARTS = frozenset({"variable_begin", "block_begin"})
# Tags that open a block closed by "end<tag>" ("set x = 1" does not).
_BLOCK_TAGS = frozenset({"if", "for", "macro", "call", "filter", "block", "with", "autoescape"})


def check_shape(
    environment: Any, source: str, name: str | None, filename: str | None, state: str | None = None
) -> None:
    """Refuse (TemplateSyntaxError) a template too long or nested too deep to parse safely.

    At most ``MAX_TEMPLATE_CHARS`` characters, brackets and ``{% %}`` blocks
    nested at most ``MAX_NESTING`` deep, at most ``MAX_OPERATORS`` operators,
    filters and lookups in one ``{{ }}`` or ``{% %}``.
    """

    def refuse(message: str, lineno: int = 1) -> None:
        raise TemplateSyntaxError(message, lineno, name, filename)

    if len(source) > MAX_TEMPLATE_CHARS:
        refuse(f"the template is {len(source):,} characters long; at most {MAX_TEMPLATE_CHARS:,}.")
    brackets = operators = blocks = 0
    tag, assigns, previous = "", False, ""
    for token in environment._tokenize(source, name, filename, state):
        kind = token.type
        if kind in _OPENING:
            brackets += 1
            if brackets > MAX_NESTING:
                refuse(f"brackets are nested more than {MAX_NESTING} deep.", token.lineno)
        elif kind in _CLOSING:
            brackets -= 1
        elif kind in _OPERATOR_TOKENS or (kind == "name" and token.value in _OPERATOR_WORDS):
            operators += 1
            if operators > MAX_OPERATORS:
                refuse(
                    f"one {{{{ }}}} or {{% %}} holds more than {MAX_OPERATORS} operators, "
                    "filters and lookups.",
                    token.lineno,
                )
        elif kind in _TAG_STARTS:
            operators, tag, assigns = 0, "", False
        elif kind == "name" and previous == "block_begin":
            tag = token.value
        elif kind == "assign":
            assigns = True
        elif kind == "block_end" and tag.startswith("end"):
            blocks -= 1
        elif kind == "block_end" and (tag in _BLOCK_TAGS or (tag == "set" and not assigns)):
            blocks += 1
            if blocks > MAX_NESTING:
                refuse(f"{{% %}} blocks are nested more than {MAX_NESTING} deep.", token.lineno)
        previous = kind


@contextmanager
def _nesting_guard(name: str | None, filename: str | None) -> Iterator[None]:
    """A template nested past what Jinja or Python can read is a syntax error, not a crash."""
    try:
        yield
    except (RecursionError, SyntaxError):
        raise TemplateSyntaxError(
            "the template is nested too deeply to be read.", 1, name, filename
        ) from None


# Filters that take the name of another filter or test: map('upper'), select('odd').
_NAMED_ARGUMENT = {"map": (0, "filter"), "select": (0, "test"), "reject": (0, "test")}
_NAMED_ARGUMENT.update({"selectattr": (1, "test"), "rejectattr": (1, "test")})


def check_nodes(tree: nodes.Node, name: str | None, filename: str | None) -> None:
    """Refuse (TemplateSyntaxError) statements, filters and tests a mapping may not use."""
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, ALLOWED_STATEMENTS):
            kind = type(node).__name__
            keyword = KEYWORDS.get(kind, kind.lower())
            raise TemplateSyntaxError(
                f"'{keyword}' is not allowed in a field mapping: use expressions, "
                "filters (map, join, ...) and {% if %}.",
                node.lineno,
                name,
                filename,
            )
    # find_all leaves out the node itself: an expression's root may be the filter.
    for node in chain([tree], tree.find_all((nodes.Filter, nodes.Test))):
        if not isinstance(node, (nodes.Filter, nodes.Test)):
            continue
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        used = [(kind, node.name)]
        position, named_kind = _NAMED_ARGUMENT.get(node.name, (None, ""))
        if kind == "filter" and position is not None and len(node.args) > position:
            argument = node.args[position]
            if isinstance(argument, nodes.Const) and isinstance(argument.value, str):
                used.append((named_kind, argument.value))
        for used_kind, used_name in used:
            allowed = ALLOWED_FILTERS if used_kind == "filter" else ALLOWED_TESTS
            if used_name not in allowed:
                raise TemplateSyntaxError(
                    f"the {used_kind} {used_name!r} is not allowed in a field mapping "
                    f"(allowed: {', '.join(sorted(allowed))}).",
                    node.lineno,
                    name,
                    filename,
                )
