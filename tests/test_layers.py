"""The package's layers import only downward.

binary → types → validate → translate → abi → concurrent → runtime → wasi → wit →
bindgen → cli: a module
may import its own layer and the layers before it, never a later one (imports
inside ``if TYPE_CHECKING:`` blocks included, since they still tie the layers
together for a reader).  ``errors``, ``_engine`` and the package root are
shared foundations; ``wave`` (values in text) sits with ``cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wasmcomponent"
LAYERS = ["binary", "types", "validate", "translate", "abi", "concurrent", "runtime", "wasi", "wit", "bindgen", "cli"]
# Modules at the package root, placed in a layer (None: a foundation anyone may import).
ROOT_MODULES = {"errors": None, "_engine": None, "cli": "cli", "wave": "cli", "wit_print": "cli", "serve": "cli"}


def _layer(module: str) -> str | None:
    """The layer of ``wasmcomponent.x.y`` (None for foundations and the package itself)."""
    parts = module.split(".")
    if parts[0] != "wasmcomponent" or len(parts) == 1:
        return None
    head = parts[1]
    if head in LAYERS:
        return head
    return ROOT_MODULES.get(head)


def _imports(path: Path, package_dir: Path = PACKAGE) -> list[tuple[int, str]]:
    module = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = module[: -len(".__init__")]
        package = module
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("wasmcomponent")]


# Upward imports made on demand inside a function, each with its reason.
ALLOWED_UPWARD = {
    ("runtime/linker.py", "wasmcomponent.wasi.ctx"): "Linker.add_wasip2(), wasmtime-py's API, loads WASI on first use",
}

MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path: Path) -> None:
    own = _layer(".".join(("wasmcomponent", *path.relative_to(PACKAGE).with_suffix("").parts)))
    if own is None:
        return
    upward = [
        f"line {line}: {name} ({_layer(name)})"
        for line, name in _imports(path)
        if _layer(name) is not None
        and LAYERS.index(_layer(name)) > LAYERS.index(own)  # type: ignore[arg-type]
        and (str(path.relative_to(PACKAGE)), name) not in ALLOWED_UPWARD
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} ({own}) imports upward: " + "; ".join(upward)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    fake = tmp_path / "wasmcomponent" / "abi" / "planted.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..runtime.values import Record\n\ndef f():\n    from wasmcomponent.wasi import ctx\n")
    names = [name for _, name in _imports(fake, tmp_path / "wasmcomponent")]
    assert names == ["wasmcomponent.runtime.values", "wasmcomponent.wasi"]
    assert [_layer(n) for n in names] == ["runtime", "wasi"]  # both above `abi`: reported


def test_resource_values_are_known_to_the_value_model_without_an_upward_import() -> None:
    """The runtime registers its resource classes, so untagged variants recognise them."""
    import wasmcomponent
    from wasmcomponent.types.model import OptionType, OwnType, ResourceIdentity, ResultType
    from wasmcomponent.types.values import case_matcher, python_classes

    own = OwnType(ResourceIdentity("r"))
    assert python_classes(own) == {wasmcomponent.ResourceAny, wasmcomponent.ResourceHost}
    handle = wasmcomponent.ResourceHost._new(1, 7, True)
    assert case_matcher(OptionType(own)).match(handle) == (1, handle)
    assert case_matcher(ResultType(own, None)).match(handle) == (0, handle)
