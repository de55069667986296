"""JSON every part of the product can hold: nesting within one bound, finite numbers, text.

Python's json module reads what nothing after it can take: nesting up to about
1,000 levels, deeper than recursive code walks (the JSON encoder, the catalog's
conversions, the mapping checks), and the number ``1e400`` as infinity (so are the
literals ``NaN`` and ``Infinity``, which are not JSON at all: RFC 8259), which
neither SQLite's ``JSON_VALID`` nor PostgreSQL's ``jsonb`` stores and no Stripe
parameter takes; and a lone UTF-16 surrogate written as an escape (``"\\ud800"``),
which Python keeps in a str although it is no character: UTF-8 cannot encode it, so
every answer showing it (an API list, an admin page, an export) would fail, and
PostgreSQL's ``jsonb`` refuses it. Every entry point that reads JSON from outside
(the webhook receiver, API bodies, admin's JSON fields, imported workflow documents,
``manage.py stripe_action``) reads it with ``loads`` or checks it with ``check``, so
one bound holds everywhere.

Pure standard library (no Django), so that every layer can use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Stripe's events and requests nest about ten levels (event, data, object, a list,
# an expanded object, its metadata...); an API body adds two or three around an
# action's input. Far deeper is not Stripe's, and recursive code fails on it.
MAX_JSON_DEPTH = 64

# A field named by at most this many parts (``steps[0].input.metadata``): the path
# down to the level past the bound would be MAX_JSON_DEPTH parts long.
_NAMED_PARTS = 4

# A JSON string (with its escapes, and the colon after a key), a bracket or a comma:
# enough to find where a body too deep for json.loads nests too deep, without recursion.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{},]', re.DOTALL)

# Half of a UTF-16 pair on its own (a pair written as two escapes is read as one
# character: "\ud83d\ude00" is U+1F600).
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONProblem(ValueError):
    """JSON refused: ``field`` names where (``""`` for the whole text), ``reason`` says why."""

    def __init__(self, parts: list[str | int], reason: str) -> None:
        self.field = field_name(parts)
        self.reason = reason
        super().__init__(f"{self.field}: {reason}" if self.field else reason)


class _TooLongInteger:
    """An integer literal past Python's int() digit limit (4,300 digits by default)."""


def loads(text: str | bytes) -> Any:
    """``text`` parsed as JSON, or JSONProblem naming the field.

    Refused: what is not JSON (also ``NaN``, ``Infinity``), nesting deeper than
    MAX_JSON_DEPTH (objects and lists inside each other; the outermost is level 1),
    numbers that are not finite once read (``1e400``), integers too long for
    Python to read and text (keys too) holding a lone surrogate (``"\\ud800"``).
    """
    try:
        value = json.loads(
            text,
            parse_constant=_not_json,
            parse_int=_integer,
        )
    except RecursionError:
        raise JSONProblem(_deep_key(text), _too_deep()) from None
    except ValueError as exc:
        raise JSONProblem([], f"is not JSON ({exc})") from None
    check(value)
    return value


def check(value: Any) -> None:
    """JSONProblem naming the first field of ``value`` that nests deeper than
    MAX_JSON_DEPTH, holds a number that is not finite (or too long) or text with a
    lone surrogate; else None. A key with a surrogate names the object holding it
    (the key itself cannot be shown).

    Iterative, so that no depth can exhaust the stack here. A key is checked before
    anything under it, so a field named never holds a surrogate.
    """
    # (item, its depth, the node of its path); a node is (parent node, key), so
    # that a path is built only for the error.
    stack: list[tuple[Any, int, tuple | None]] = [(value, 1, None)]
    while stack:
        item, depth, node = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise JSONProblem(_parts(node), _too_deep())
            if isinstance(item, dict):
                _check_keys(item, node)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, depth + 1, (node, key)) for key, child in pairs)
        elif isinstance(item, str):
            if not item.isascii() and (found := _SURROGATE.search(item)):
                raise JSONProblem(_parts(node), _surrogate(found.group()))
        elif isinstance(item, float) and not math.isfinite(item):
            raise JSONProblem(_parts(node), "must be a finite number (JSON has no infinity)")
        elif isinstance(item, _TooLongInteger):
            raise JSONProblem(_parts(node), "is a number too long to read")


def field_name(parts: list[str | int]) -> str:
    """``["steps", 0, "input", "metadata", "a"]`` -> ``steps[0].input.metadata`` (at
    most _NAMED_PARTS parts; the same spelling as the catalog's field paths). A
    surrogate in a key is written as its escape (``\\ud800``), so the name is text."""
    text = ""
    for part in parts[:_NAMED_PARTS]:
        if isinstance(part, int):
            text = f"{text}[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return escape_surrogates(text)


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as its JSON escape (``\\ud800``).

    For JSON text written with ``ensure_ascii=False`` (a surrogate can only be in
    a string there): the result reads back as the same value and, unlike the
    input, can be encoded as UTF-8. Text without a surrogate is returned as is.
    """
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _check_keys(item: dict, node: tuple | None) -> None:
    for key in item:
        if isinstance(key, str) and not key.isascii() and (found := _SURROGATE.search(key)):
            raise JSONProblem(_parts(node), f"has a key that {_surrogate(found.group())}")


def _surrogate(char: str) -> str:
    """The reason for a lone surrogate, in the words of Django's and DRF's text fields."""
    return (
        f"holds U+{ord(char):04X}, half of a UTF-16 pair alone: "
        "surrogate characters are not allowed"
    )


def _too_deep() -> str:
    return f"is nested deeper than {MAX_JSON_DEPTH} levels (objects and lists inside each other)"


def _parts(node: tuple | None) -> list[str | int]:
    parts: list[str | int] = []
    while node is not None:
        node, key = node
        parts.append(key)
    return parts[::-1]


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _integer(text: str) -> int | _TooLongInteger:
    try:
        return int(text)
    except ValueError:
        return _TooLongInteger()


def _deep_key(text: str | bytes) -> list[str | int]:
    """The path to the value of ``text`` that nests too deep, found without recursion
    (a text json.loads could not read; ``[]`` when the outermost value is the culprit)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # One [is a list, current key or index] per open container.
    frames: list[list[Any]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            frames.append([token == "[", 0 if token == "[" else None])
            if len(frames) > MAX_JSON_DEPTH:
                return [key for _, key in frames[:-1]][:_NAMED_PARTS]
        elif token in "]}":
            if frames:
                frames.pop()
        elif token == ",":
            if frames and frames[-1][0]:
                frames[-1][1] += 1
        elif match.group(1) and frames and not frames[-1][0]:
            try:
                frames[-1][1] = json.loads(token[: token.rindex('"') + 1])
            except ValueError:
                frames[-1][1] = None
    return []
