"""The localstripe stand-in builds on localstripe's public interfaces, at the exact
version pyproject.toml pins (the one installed)."""

import ast
import tomllib
from importlib.metadata import version

from tests.support.processes import BASE_DIR

LAUNCHER = BASE_DIR / "standins" / "localstripe_server.py"


def localstripe_names(tree: ast.Module) -> set[str]:
    """The names the launcher binds to localstripe's modules and objects."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("localstripe")
        for alias in node.names
    }


def root(node: ast.expr) -> str | None:
    """``webhooks`` for ``webhooks.a.b``; None when the chain starts elsewhere."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_the_launcher_uses_no_private_name_of_localstripe_and_replaces_none_of_its_code():
    tree = ast.parse(LAUNCHER.read_text())
    ours = localstripe_names(tree)
    used = [
        node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and root(node) in ours
    ]
    assigned = [
        ast.unparse(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Attribute) and root(target) in ours
    ]

    assert ours  # the check reads the real imports
    assert [ast.unparse(n) for n in used if n.attr.startswith("_")] == []
    assert assigned == []


def test_localstripe_is_pinned_exactly_to_the_installed_version():
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())
    dev = project["project"]["optional-dependencies"]["dev"]

    pins = [requirement for requirement in dev if requirement.startswith("localstripe")]

    assert pins == [f"localstripe=={version('localstripe')}"]
