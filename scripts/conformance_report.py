#!/usr/bin/env python3
"""Run the Component Model `.wast` conformance suites and print a report.

Prints one line per script (`pass fail skip  path`), then the figures the
project tracks (acceptance, rejection, resources, async).  `--verbose` adds
each failing directive with `file:line` and the reason (`-vv`: skipped ones
too); `--json PATH` writes the whole report; `--write-known-failures PATH`
writes a known-failures list for the selected API.

Examples::

    python scripts/conformance_report.py --api wasmtime
    python scripts/conformance_report.py --api wasmcomponent -v --json out.json
    python scripts/conformance_report.py --api wasmtime wasmtime/strings.wast
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from conformance import known_failures  # noqa: E402
from conformance.api import API_ENV, ApiUnavailable, load_api  # noqa: E402
from conformance.convert import ConversionError, Converter  # noqa: E402
from conformance.driver import EngineCache, FileResult, RunOptions, run_file  # noqa: E402
from conformance.suites import GROUPS, default_conformance_dir, discover  # noqa: E402
from conformance.summary import figures, file_group, format_counts, to_json  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="scripts (relative to --dir or absolute)")
    parser.add_argument(
        "--api", choices=("wasmtime", "wasmcomponent"),
        help=f"API under test (default: ${API_ENV}, else wasmcomponent)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="conformance directory")
    parser.add_argument(
        "--group", action="append", choices=GROUPS,
        help="only scripts of these groups (repeatable; default: all)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--write-known-failures", type=Path, metavar="PATH")
    parser.add_argument(
        "--no-check-messages", dest="check_messages", action="store_false",
        help="do not require the expected error text for assert_invalid/malformed/unlinkable "
        "(checked by default, as Wasmtime's wast runner does)",
    )
    parser.add_argument(
        "--ignore-missing-features", action="store_true",
        help="run scripts even if they need features the API lacks",
    )
    return parser.parse_args(argv)


def select_files(args: argparse.Namespace, conformance_dir: Path) -> list[Path]:
    if args.files:
        paths = []
        for name in args.files:
            path = Path(name)
            paths.append(path if path.is_absolute() or path.exists() else conformance_dir / path)
        return paths
    groups = tuple(args.group) if args.group else GROUPS
    return discover(conformance_dir, groups)


def print_file(result: FileResult, verbose: int) -> None:
    counts = result.counts()
    print(f"{counts['pass']:5d} {counts['fail']:5d} {counts['skip']:5d}  {result.rel_path}")
    shown = result.results if verbose >= 2 else result.failures() if verbose else []
    for directive in shown:
        if directive.outcome == "pass":
            continue
        print(
            f"        {directive.outcome.upper()} {result.rel_path}:{directive.line} "
            f"{directive.kind}: {directive.reason}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conformance_dir = args.dir or default_conformance_dir()
    if not conformance_dir.is_dir():
        print(f"conformance directory {conformance_dir} not found", file=sys.stderr)
        return 2
    try:
        api = load_api(args.api)
    except ApiUnavailable as exc:
        print(f"API unavailable: {exc}", file=sys.stderr)
        return 2
    converter, engines = Converter(), EngineCache()
    options = RunOptions(
        check_messages=args.check_messages,
        ignore_missing_features=args.ignore_missing_features,
    )
    print(f"API: {api.module.__name__}   scripts: {conformance_dir}")
    print(" pass  fail  skip  script")
    results: list[FileResult] = []
    for path in select_files(args, conformance_dir):
        try:
            result = run_file(
                api, path, conformance_dir, converter=converter, engines=engines, options=options
            )
        except (ConversionError, OSError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
        results.append(result)
        print_file(result, args.verbose)

    total: Counter[str] = Counter()
    for result in results:
        total.update(result.counts())
    print()
    print(f"TOTAL (all directives): {format_counts(total)} in {len(results)} scripts")
    for name, counts in figures(results).items():
        if sum(counts.values()):
            print(f"{name:>10}: {format_counts(counts)}")
    groups = Counter(file_group(result) for result in results)
    print("scripts per group: " + ", ".join(f"{g}={n}" for g, n in sorted(groups.items())))

    if args.json:
        args.json.write_text(json.dumps(to_json(api.name, str(conformance_dir), results), indent=1))
        print(f"wrote {args.json}")
    if args.write_known_failures:
        header = (
            f"Known conformance failures for `{api.module.__name__}`.\n"
            f"Generated by scripts/conformance_report.py --api {api.name} "
            f"--write-known-failures; format: `file:line reason`."
        )
        args.write_known_failures.write_text(known_failures.render(results, header))
        print(f"wrote {args.write_known_failures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
