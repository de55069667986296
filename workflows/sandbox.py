"""The bounds of the field-mapping sandbox: memory, CPU time and output size.

Mappings are written by staff, but one expression must never take a worker's
memory or time (``{{ 'x' | center(10**9) }}``, ``{{ ((10**1000)**1000)**100 }}``).
Four layers, each cheap on a normal mapping:

1. Statically, when a template is parsed (at save and at render: one compile
   path), only expressions and ``{% if %}`` are allowed. Loops, ``set``,
   macros, blocks, includes and imports are refused: a field's value does not
   need them (``map``/``join`` filters cover lists), and they are what makes
   sizes double in a loop.
2. Every operation that can multiply a size is predicted before it runs and
   refused past ``MAX_VALUE_CHARS``: ``*`` and ``+`` on text and lists, ``**``
   and ``*`` on integers (by bit length), ``%`` formatting (widths and
   precisions), ``~`` concatenation, the filters that pad, repeat or fill
   (center, indent, wordwrap, format, join, replace, batch, slice, tojson, sum)
   and the string methods that do (center, ljust, rjust, zfill, replace, join,
   expandtabs, translate); ``str.format`` and mutating list/dict methods are
   refused. Everything a render produces counts against ``RENDER_BUDGET_CHARS``.
3. The rendered input of a step is at most ``MAX_INPUT_BYTES`` of JSON
   (``check_input_size``).
4. A deadline, ``MAX_RENDER_SECONDS`` per step: every sandbox hook (operators,
   calls, attribute lookups, filters, output) checks it, so even an expression
   these rules did not foresee stops.

All refusals raise ``MappingLimitError`` (a jinja2 SecurityError); the mapping
module turns it into a MappingError naming the field.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
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
    check_time()
    if chars > MAX_VALUE_CHARS:
        raise MappingLimitError(
            f"{what} would be about {chars:,} characters; at most {MAX_VALUE_CHARS:,}."
        )
    budget = _budget()
    budget.spent += chars
    if budget.spent > RENDER_BUDGET_CHARS:
        raise MappingLimitError(
            f"the mapping produced more than {RENDER_BUDGET_CHARS:,} characters in all."
        )


def size_of(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """The rough size of ``value`` as text (characters); stops counting past ``limit``."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, Mapping):
        value = [item for pair in value.items() for item in pair]
    if isinstance(value, (list, tuple, set, frozenset)):
        total = 2
        for item in value:
            total += size_of(item, limit - total) + 2
            if total > limit:
                return total
        return total
    return 24


def check_input_size(value: Any) -> None:
    """Refuse an input larger than ``MAX_INPUT_BYTES`` of JSON (raises MappingLimitError)."""
    size = len(json.dumps(value, default=str).encode())
    if size > MAX_INPUT_BYTES:
        raise MappingLimitError(
            f"the rendered input is {size:,} bytes of JSON; at most {MAX_INPUT_BYTES:,}."
        )


# -- predicting operators -------------------------------------------------------

_SIZED = (str, bytes, list, tuple)
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise MappingLimitError(f"{what} would have about {bits:,} bits; at most {MAX_INT_BITS:,}.")


def predict_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` when its result would be too large."""
    check_time()
    if operator == "**" and _is_int(left) and _is_int(right):
        if right > 0 and abs(left) > 1:
            _check_int_bits(left.bit_length() * right, "a power")
    elif operator == "*" and _is_int(left) and _is_int(right):
        _check_int_bits(left.bit_length() + right.bit_length(), "a product")
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


# -- bounded filters and methods --------------------------------------------------


def _width(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    return int(value) if _is_int(value) else 0


def _bounded_filters(filters: dict) -> dict:
    """Jinja's filters that pad, repeat or fill, each predicted first."""
    original = dict(filters)

    def center(value, width=80):
        spend(max(len(str(value)), _width(width)), "center")
        return original["center"](value, width)

    def indent(s, width=4, first=False, blank=False):
        text = str(s)
        spend(len(text) + (text.count("\n") + 1) * _width(width), "indent")
        return original["indent"](s, width, first, blank)

    def wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, **kwargs):
        text, sep = str(s), wrapstring or environment.newline_sequence
        lines = len(text) // max(_width(width), 1) + text.count("\n") + 1
        spend(len(text) + lines * len(sep), "wordwrap")
        return original["wordwrap"](environment, s, width, break_long_words, wrapstring, **kwargs)

    def format_(value, *args, **kwargs):
        predict_format(str(value), tuple(args) or kwargs)
        return original["format"](value, *args, **kwargs)

    def join(eval_ctx, value, d="", attribute=None):
        items = list(value)
        spend(size_of(items) + len(str(d)) * len(items), "join")
        return original["join"](eval_ctx, items, d, attribute)

    def replace(eval_ctx, s, old, new, count=None):
        text, old, new = str(s), str(old), str(new)
        hits = (text.count(old) if old else len(text) + 1) if len(new) > len(old) else 0
        if count is not None and _is_int(count) and count >= 0:
            hits = min(hits, count)
        spend(len(text) + hits * (len(new) - len(old)), "replace")
        return original["replace"](eval_ctx, s, old, new, count)

    def batch(value, linecount, fill_with=None):
        _check_items(linecount, "batch")
        return original["batch"](value, linecount, fill_with)

    def slice_(value, slices, fill_with=None):
        _check_items(slices, "slice")
        return original["slice"](value, slices, fill_with)

    def tojson(eval_ctx, value, indent=None):
        if indent is not None and (not _is_int(indent) or not 0 <= indent <= 8):
            raise MappingLimitError("tojson: indent must be between 0 and 8.")
        return original["tojson"](eval_ctx, value, indent)

    def sum_(environment, iterable, attribute=None, start=0):
        if not isinstance(start, (int, float)) or isinstance(start, bool):
            raise MappingLimitError("sum: only numbers can be summed in a mapping.")
        return original["sum"](environment, iterable, attribute, start)

    for function in (wordwrap, sum_):
        function.jinja_pass_arg = original["wordwrap"].jinja_pass_arg  # environment
    for function in (join, replace, tojson):
        function.jinja_pass_arg = original["join"].jinja_pass_arg  # eval context
    return {
        "center": center,
        "indent": indent,
        "wordwrap": wordwrap,
        "format": format_,
        "join": join,
        "replace": replace,
        "batch": batch,
        "slice": slice_,
        "tojson": tojson,
        "sum": sum_,
    }


def _timed(function: Any) -> Any:
    """``function`` checking the render's deadline first (filters are called directly)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        check_time()
        return function(*args, **kwargs)

    if hasattr(function, "jinja_pass_arg"):
        timed.jinja_pass_arg = function.jinja_pass_arg
    return timed


def _check_items(count: Any, what: str) -> None:
    if not _is_int(count) or not 0 < count <= MAX_ITEMS:
        raise MappingLimitError(f"{what}: the count must be between 1 and {MAX_ITEMS:,}.")


def predict_method(obj: Any, name: str, args: tuple, kwargs: dict) -> None:
    """Refuse a str/bytes method call whose result would be too large."""
    if name in ("center", "ljust", "rjust", "zfill"):
        spend(max(len(obj), _width(args[0]) if args else 0), name)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, type(obj)) and isinstance(new, type(obj)) and len(new) > len(old):
            hits = obj.count(old) if old else len(obj) + 1
            spend(len(obj) + hits * (len(new) - len(old)), "replace")
    elif name == "join" and args:
        items = list(args[0])
        spend(size_of(items) + len(obj) * len(items), "join")
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
    """Jinja2's immutable sandbox with the bounds above (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("finalize", self._finalize)
        super().__init__(*args, **kwargs)
        self.filters.update(_bounded_filters(self.filters))
        self.filters.update({name: _timed(f) for name, f in self.filters.items()})
        # lipsum(10**9), cycler, joiner and namespace are not for a field's value.
        for name in ("lipsum", "cycler", "joiner", "namespace"):
            self.globals.pop(name, None)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
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
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        predict_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_time()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes)):
            predict_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

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
        spend(sum(size_of(part) for part in parts), "a ~ concatenation")
        return "".join(str(part) for part in parts)

    @staticmethod
    def _finalize(value: Any) -> Any:
        spend(size_of(value), "an output")
        return value
