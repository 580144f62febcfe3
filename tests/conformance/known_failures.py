"""Known-failure lists: lines `relative/path.wast:LINE reason`.

Blank lines and lines starting with `#` are ignored.  The list to use
depends on the API: `known_failures_wasmtime.txt` for `wasmtime.component`,
`known_failures.txt` for `wasmcomponent`.
"""

from __future__ import annotations

from pathlib import Path

from .driver import FileResult

HERE = Path(__file__).resolve().parent


def known_failures_path(api_name: str) -> Path:
    """The list that applies to the API named `api_name`."""
    if api_name == "wasmtime":
        return HERE / "known_failures_wasmtime.txt"
    return HERE / "known_failures.txt"


def load(path: Path) -> dict[tuple[str, int], str]:
    """`(rel_path, line) -> reason` from a list file (missing file: empty)."""
    known: dict[tuple[str, int], str] = {}
    if not path.is_file():
        return known
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        location, _, reason = text.partition(" ")
        file_part, sep, line_part = location.rpartition(":")
        if not sep or not line_part.isdigit():
            raise ValueError(f"{path}: bad known-failure line {raw!r}")
        known[(file_part, int(line_part))] = reason.strip()
    return known


def render(results: list[FileResult], header: str) -> str:
    """A list file naming every failing directive of `results`."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for result in results:
        for failure in result.failures():
            reason = " ".join(failure.reason.split())[:200]
            lines.append(f"{result.rel_path}:{failure.line} {reason}")
    return "\n".join(lines) + "\n"
