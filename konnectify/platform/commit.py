"""Work to do once the current transaction commits, whose failure must not undo it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction


def after_commit(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``func(*args, **kwargs)`` after the current transaction commits (at once if
    none is open). An exception it raises is logged by Django and goes no further: the
    committed work stands (``on_commit(..., robust=True)``).

    Django names a failing robust callback by its ``__qualname__`` in that log line; a
    ``functools.partial`` has none, so the failure would turn into an AttributeError
    raised to the caller after the commit. The wrapper here carries the name of ``func``.
    """

    def call() -> None:
        func(*args, **kwargs)

    call.__qualname__ = getattr(func, "__qualname__", repr(func))
    transaction.on_commit(call, robust=True)
