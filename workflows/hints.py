"""Warnings about what HTTP request steps name: a credential that does not exist, and
secrets typed into the step instead of kept in a credential.

A save (admin or the API) shows them as warnings; importing a document refuses a
credential that does not exist (``missing_credentials``), since the workflow came from
elsewhere and its steps would fail at every run.

Only a credential's secret is kept out of a workflow and its exports: a header, a query
parameter or a URL typed into the step is stored, shown and exported as written.
``secret_warnings`` names those whose name looks like a secret's (``X-Api-Key``,
``token``, ``client_secret``...) when their value is literal text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connections.credentials import Credential
from workflows.mapping import is_template
from workflows.services import HTTP_ACTION_KEYS

# Header and query parameter names that carry secrets (case-insensitive, anywhere in
# the name); an idempotency key is no secret.
SECRET_NAME = re.compile(
    r"api[-_]?key|access[-_]?key|private[-_]?key|secret|token|passw|auth|cookie|session"
    r"|signature|^key$",
    re.IGNORECASE,
)
NOT_SECRET = ("idempotency-key",)
SECRET_MESSAGE = (
    "looks like a secret typed into the step: it is kept as written, shown on the "
    "workflow's page and in its runs' inputs, and exported with the workflow. Keep "
    "secrets in a credential (the step's credential field): only a credential's secret "
    "stays out of runs and exports."
)


def step_credentials(steps: list[dict]) -> Iterator[tuple[int, str]]:
    """``(index, name)`` of each HTTP request step naming a credential literally.

    ``steps``: dicts with ``action_key`` and ``input_mapping`` (as saves check them)."""
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("action_key") not in HTTP_ACTION_KEYS:
            continue
        mapping = step.get("input_mapping")
        name = mapping.get("credential") if isinstance(mapping, dict) else None
        if isinstance(name, str) and name and not is_template(name):
            yield index, name


def missing_credentials(steps: list[dict]) -> dict[int, str]:
    """``{index: name}``: the steps naming a credential that does not exist."""
    named = dict(step_credentials(steps))
    existing = set(
        Credential.objects.filter(name__in=set(named.values())).values_list("name", flat=True)
    )
    return {index: name for index, name in named.items() if name not in existing}


def missing_credential_message(name: str) -> str:
    return (
        f"No credential named {name!r} exists: the step fails at every run until one is "
        "added (Connections → Credentials, with its secret and allowed hosts)."
    )


def step_warnings(steps: list[dict]) -> list[list[dict[str, str]]]:
    """One list per step of ``{"field", "message"}``, ``field`` a path in the step's
    input: ``credential`` (no such credential), ``headers.<name>``, ``query.<name>`` or
    ``url`` (a secret typed in, ``secret_warnings``)."""
    found: list[list[dict[str, str]]] = [[] for _ in steps]
    for index, name in missing_credentials(steps).items():
        found[index].append({"field": "credential", "message": missing_credential_message(name)})
    for index, step in enumerate(steps):
        if isinstance(step, dict) and step.get("action_key") in HTTP_ACTION_KEYS:
            found[index] += secret_warnings(step.get("input_mapping"))
    return found


def secret_warnings(mapping: Any) -> list[dict[str, str]]:
    """An HTTP request input's headers, query parameters and URL query whose name looks
    like a secret's (``SECRET_NAME``) and whose value is literal text (a reference is
    data of the run, not a secret typed in)."""
    if not isinstance(mapping, dict):
        return []
    found = []
    for part in ("headers", "query"):
        values = mapping.get(part)
        if isinstance(values, dict):
            found += [
                {"field": f"{part}.{name}", "message": f"{name} {SECRET_MESSAGE}"}
                for name, value in values.items()
                if looks_secret(name, value)
            ]
    url = mapping.get("url")
    if isinstance(url, str):
        try:
            pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        except ValueError:
            pairs = []
        found += [
            {"field": "url", "message": f"Its query parameter {name} {SECRET_MESSAGE}"}
            for name, value in pairs
            if looks_secret(name, value)
        ]
    return found


def looks_secret(name: Any, value: Any) -> bool:
    """Whether a header or parameter ``name`` looks like a secret's and its ``value`` is
    literal, non-empty text."""
    return (
        isinstance(name, str)
        and name.lower() not in NOT_SECRET
        and bool(SECRET_NAME.search(name))
        and isinstance(value, str)
        and bool(value.strip())
        and not is_template(value)
    )
