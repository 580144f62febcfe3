"""Where the scripts are and how they are grouped into figures.

Groups (paths relative to the conformance directory):

* `acceptance`: `wasmtime/*.wast`, `wasmtime/gc/*.wast` and the non-async
  folders of `component-model/` (`binary`, `linking`, `resources`,
  `validation`, `values`), excluding resource scripts (a "resource" in the
  file name, or the `component-model/resources/` folder);
* `resources`: the resource scripts among those folders;
* `async`: everything under an `async/` folder.

The acceptance figure counts the executable directives
(`driver.EXECUTABLE_KINDS`) of the `acceptance` group; the rejection figure
counts `assert_invalid` + `assert_malformed` over the same group.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

CONFORMANCE_DIR_ENV = "WASMCOMPONENT_CONFORMANCE_DIR"
COMPONENT_MODEL_FOLDERS = ("binary", "linking", "resources", "validation", "values")
GROUPS = ("acceptance", "resources", "async", "other")


def default_conformance_dir() -> Path:
    """`$WASMCOMPONENT_CONFORMANCE_DIR`, else `<repo>/../shared/conformance`."""
    env = os.environ.get(CONFORMANCE_DIR_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "conformance"


def group_of(rel: PurePath) -> str:
    """The figure a script (path relative to the conformance dir) belongs to."""
    parts = rel.parts
    if "async" in parts[:-1]:
        return "async"
    in_scope = (
        (parts[:1] == ("wasmtime",) and len(parts) == 2)
        or (parts[:2] == ("wasmtime", "gc") and len(parts) == 3)
        or (parts[:1] == ("component-model",) and len(parts) == 3
            and parts[1] in COMPONENT_MODEL_FOLDERS)
    )
    if not in_scope:
        return "other"
    if "resource" in parts[-1] or parts[:2] == ("component-model", "resources"):
        return "resources"
    return "acceptance"


def discover(conformance_dir: Path, groups: tuple[str, ...] = GROUPS) -> list[Path]:
    """All `.wast` scripts under `conformance_dir` in the given groups, sorted."""
    found = []
    for path in sorted(conformance_dir.rglob("*.wast")):
        if group_of(path.relative_to(conformance_dir)) in groups:
            found.append(path)
    return found


def figure_groups() -> dict[str, tuple[tuple[str, ...], str]]:
    """Figure name -> (groups it sums over, directive family)."""
    return {
        "acceptance": (("acceptance",), "executable"),
        "rejection": (("acceptance", "resources"), "rejection"),
        "resources": (("resources",), "executable"),
        "async": (("async",), "executable"),
    }
