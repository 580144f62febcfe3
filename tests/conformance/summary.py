"""Totals over many `FileResult`s: per group, per figure, and as JSON.

Figures (see `suites`): `acceptance` = executable directives of the
acceptance group; `rejection` = `assert_invalid` + `assert_malformed` over
the acceptance and resource groups; `resources` = executable directives of
the resource scripts; `async` = executable directives under `async/`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from .driver import EXECUTABLE_KINDS, FAIL, PASS, REJECTION_KINDS, SKIP, FileResult
from .suites import figure_groups, group_of

FAMILIES = {"executable": EXECUTABLE_KINDS, "rejection": REJECTION_KINDS}


def file_group(result: FileResult) -> str:
    return group_of(PurePosixPath(result.rel_path))


def figures(results: list[FileResult]) -> dict[str, Counter[str]]:
    """pass/fail/skip counts per figure."""
    out: dict[str, Counter[str]] = {}
    for name, (groups, family) in figure_groups().items():
        total: Counter[str] = Counter()
        for result in results:
            if file_group(result) in groups:
                total.update(result.counts(FAMILIES[family]))
        out[name] = total
    return out


def format_counts(counts: Counter[str]) -> str:
    total = sum(counts.values())
    return f"{counts[PASS]}/{total} pass, {counts[FAIL]} fail, {counts[SKIP]} skip"


def to_json(api_name: str, conformance_dir: str, results: list[FileResult]) -> dict[str, Any]:
    """A JSON-serialisable report of a run."""
    return {
        "api": api_name,
        "conformance_dir": conformance_dir,
        "figures": {
            name: {"pass": c[PASS], "fail": c[FAIL], "skip": c[SKIP], "total": sum(c.values())}
            for name, c in figures(results).items()
        },
        "files": [
            {
                "path": r.rel_path,
                "group": file_group(r),
                "conversion": r.conversion,
                "seconds": round(r.seconds, 3),
                "counts": {k: r.counts()[k] for k in (PASS, FAIL, SKIP)},
                "directives": [
                    {"line": d.line, "kind": d.kind, "outcome": d.outcome, "reason": d.reason}
                    for d in r.results
                ],
            }
            for r in results
        ],
    }
