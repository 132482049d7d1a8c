"""The import rules of docs/architecture.md, checked on the source: a module that reaches up a
layer fails here, naming the file and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ledgrab

PACKAGE = Path(ledgrab.__file__).parent

# layer -> the ledgrab packages it must not import
FORBIDDEN = {
    "models": ("ledgrab.api", "ledgrab.core", "ledgrab.storage", "ledgrab.app", "ledgrab.config"),
    "utils": ("ledgrab.api", "ledgrab.core", "ledgrab.storage", "ledgrab.models", "ledgrab.app"),
    "storage": ("ledgrab.api", "ledgrab.core", "ledgrab.app"),
    "core": ("ledgrab.api", "ledgrab.app"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_module_imports_from_a_layer_above_it(layer):
    wrong = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert wrong == []
