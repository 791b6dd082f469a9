"""The package's layers: ``_backend`` -> ``base`` -> one package per model.

Imports are read with :mod:`ast` (relative imports resolved against the
importing module), so prose in docstrings and comments does not count.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skspectral"
MODEL_PACKAGES = ("spectral", "sparse", "conv", "prior", "refiner")

#: Imports that break a rule on purpose, as (file relative to skspectral/,
#: imported module). Every entry says why.
#: None today; a function-local import of ``skspectral.prior`` in base, for
#: a default prior, would be the one acceptable kind of entry.
ALLOWED_EXCEPTIONS = frozenset()


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(path, level, module):
    """The absolute name of ``from <level dots><module> import ...`` in ``path``."""
    if level == 0:
        return module
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imported_modules(path):
    """Every module ``path`` imports, absolute (``from x import y`` also gives ``x.y``)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _resolve(path, node.level, node.module)
            yield module
            for alias in node.names:
                yield f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def _docstring_nodes(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def _named_modules(path):
    """Strings in the code (not docstrings) that name a ``skspectral`` module."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node) for node in _docstring_nodes(tree)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and node.value.startswith("skspectral.")
        ):
            yield node.value


def _subpackage(module):
    """``"conv"`` for ``skspectral.conv._estimator``; None outside skspectral."""
    parts = module.split(".")
    if parts[0] != "skspectral":
        return None
    return parts[1] if len(parts) > 1 else ""


def _files(package):
    return sorted((PACKAGE / package).rglob("*.py"))


def _violations(package, forbidden):
    found = []
    for path in _files(package):
        rel = str(path.relative_to(PACKAGE))
        for module in (*_imported_modules(path), *_named_modules(path)):
            if _subpackage(module) in forbidden and (rel, module) not in ALLOWED_EXCEPTIONS:
                found.append(f"{rel}: {module}")
    return sorted(set(found))


def test_the_resolver_reads_relative_imports():
    path = PACKAGE / "base" / "_model.py"
    assert _resolve(path, 1, "_labels") == "skspectral.base._labels"
    assert _resolve(path, 2, "_backend") == "skspectral._backend"
    assert _resolve(PACKAGE / "base" / "__init__.py", 1, "_model") == "skspectral.base._model"
    assert "skspectral.base._residual" in set(_imported_modules(path))


def test_backend_knows_no_model_and_no_base():
    assert _files("_backend")
    assert _violations("_backend", {*MODEL_PACKAGES, "base"}) == []


def test_base_imports_no_model_package():
    assert _files("base")
    assert _violations("base", set(MODEL_PACKAGES)) == []


@pytest.mark.parametrize("package", MODEL_PACKAGES)
def test_model_packages_import_only_backend_base_prior_and_utils(package):
    allowed = {"_backend", "base", "utils", "prior", package}
    for path in _files(package):
        for module in _imported_modules(path):
            top = _subpackage(module)
            # ``from .. import x`` resolves to skspectral.x: x is judged.
            assert top is None or top in allowed, f"{path.relative_to(PACKAGE)} imports {module}"
