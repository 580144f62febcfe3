"""Component Model `.wast` conformance, one test per script.

Each script runs through `tests/conformance` against the API selected by
`WASMCOMPONENT_CONFORMANCE_API` (`wasmcomponent` by default, or `wasmtime`
for the reference `wasmtime.component`).  A test fails when a directive
fails that the API's known-failures list (`tests/conformance/
known_failures*.txt`, lines `file:line reason`) does not name.  Skipped
directives never fail a test but are always reported as
`ConformanceSkipWarning`s (see pytest's warnings summary); known failures
that now pass are reported the same way so the list can be pruned.

Error messages are checked as Wasmtime's wast runner checks them: the
expected text of `assert_invalid`, `assert_malformed` and `assert_unlinkable`
must be in the error chain (set `WASMCOMPONENT_CONFORMANCE_NO_MESSAGES=1` to
only require an error).

The module skips cleanly when the scripts (`../shared/conformance` next to
the repository, or `$WASMCOMPONENT_CONFORMANCE_DIR`), `wasm-tools`, or the
selected API are unavailable.

The first tests below check the driver's own building blocks.

Run against the reference with
`WASMCOMPONENT_CONFORMANCE_API=wasmtime python -m pytest tests/test_conformance.py`.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conformance import known_failures  # noqa: E402
from conformance.api import ApiUnavailable, ComponentApi, load_api  # noqa: E402
from conformance.convert import Converter, form_kind  # noqa: E402
from conformance.driver import EngineCache, FileResult, run_file, trap_matches  # noqa: E402
from conformance.features import features_for, parse_header  # noqa: E402
from conformance.sexpr import Form, SplitError, split_forms  # noqa: E402
from conformance.suites import default_conformance_dir, discover, group_of  # noqa: E402
from conformance.values import (  # noqa: E402
    ScriptValueError,
    describe_mismatch,
    is_tagged,
    to_python,
)

CONFORMANCE_DIR = default_conformance_dir()
if not CONFORMANCE_DIR.is_dir():
    pytest.skip(
        f"conformance scripts not found at {CONFORMANCE_DIR} "
        "(set WASMCOMPONENT_CONFORMANCE_DIR to run them)",
        allow_module_level=True,
    )


class ConformanceSkipWarning(UserWarning):
    """Directives of a script were skipped (or known failures now pass)."""


# -- driver building blocks --------------------------------------------------


def test_split_forms_tracks_lines_strings_and_comments() -> None:
    src = '(module)\n;; (not a form)\n(; block (; nested ;) ;)\n(assert_trap (invoke "a)b") "x")\n'
    assert split_forms(src) == [
        Form(1, "(module)"),
        Form(4, '(assert_trap (invoke "a)b") "x")'),
    ]
    with pytest.raises(SplitError):
        split_forms("(module")


def test_form_kind() -> None:
    assert form_kind(Form(1, "(component definition $A)")) == "module_definition"
    assert form_kind(Form(1, "(component instance $i $A)")) == "module_instance"
    assert form_kind(Form(1, "(component)")) == "module"
    assert form_kind(Form(1, '(assert_return (invoke "f"))')) == "assert_return"


def test_feature_header_and_implications() -> None:
    text = ";;! gc = true\n;;! component_model_async = true\n(component)\n;;! x = true"
    assert parse_header(text) == {"gc": True, "component_model_async": True}
    plain = features_for(PurePath("wasmtime/resources.wast"), text)
    assert plain.required == [] and plain.per_component == ["component_model_async"]
    in_async = features_for(PurePath("wasmtime/async/x.wast"), text)
    assert in_async.required == ["component_model_async"]
    effective = plain.effective()
    assert effective["gc"] and effective["function_references"] and effective["reference_types"]
    assert "simd" not in effective  # unmentioned features keep the config default
    suite = features_for(PurePath("component-model/values/x.wast"), "(component)")
    assert suite.spec_test and suite.required == []
    assert "component_model_fixed_length_lists" in suite.per_component


def test_trap_matching() -> None:
    assert trap_matches("unreachable", "wasm trap: wasm `unreachable` instruction executed")
    assert trap_matches("cannot write to stream", "cannot write: handle dropped")
    assert not trap_matches("out of bounds", "unreachable")


def test_known_failures_round_trip(tmp_path: Path) -> None:
    from conformance.driver import DirectiveResult

    result = FileResult(Path("x.wast"), "dir/x.wast")
    result.results = [
        DirectiveResult(3, "module", "fail", "compile failed:\n  bad"),
        DirectiveResult(5, "module", "pass"),
    ]
    path = tmp_path / "kf.txt"
    path.write_text(known_failures.render([result], "header"))
    assert known_failures.load(path) == {("dir/x.wast", 3): "compile failed: bad"}


# Stand-ins named like the API's type classes: the value code dispatches on names.
class U8:
    pass


class U32:
    pass


class S32:
    pass


class F32:
    pass


class String:
    pass


@dataclass
class ListType:
    element: Any


@dataclass
class OptionType:
    payload: Any


@dataclass
class ResultType:
    ok: Any
    err: Any


@dataclass
class RecordType:
    fields: list[tuple[str, Any]]


@dataclass
class FlagsType:
    names: list[str]


class FakeApi:
    """Provides `Record` and `Variant` like the component APIs do."""

    class Record:
        pass

    @dataclass
    class Variant:
        tag: str
        payload: Any = None


def test_values_follow_wasmtime_py_conventions() -> None:
    api = FakeApi
    assert to_python({"type": "list", "value": [{"type": "u8", "value": "7"}]},
                     ListType(U8()), api) == b"\x07"
    option_u32 = OptionType(U32())
    assert not is_tagged(option_u32)
    assert to_python({"type": "option", "value": None}, option_u32, api) is None
    nested = OptionType(OptionType(U32()))
    assert is_tagged(nested)
    assert to_python({"type": "option", "value": None}, nested, api) == api.Variant("none")
    result = ResultType(String(), String())
    assert to_python({"type": "result", "value": {"Err": {"type": "string", "value": "e"}}},
                     result, api) == api.Variant("err", "e")
    flags = to_python({"type": "flags", "value": ["b"]}, FlagsType(["a", "b"]), api)
    assert flags == {"b"}
    record = to_python(
        {"type": "record", "value": [["x-y", {"type": "u32", "value": "1"}]]},
        RecordType([("x-y", U32())]), api,
    )
    assert getattr(record, "x-y") == 1
    with pytest.raises(ScriptValueError):
        to_python({"type": "u32", "value": "1"}, S32(), api)
    with pytest.raises(ScriptValueError):
        to_python({"type": "u32", "value": "4294967296"}, U32(), api)


def test_value_comparison() -> None:
    nan = float("nan")
    assert describe_mismatch(nan, nan) is None
    assert describe_mismatch(0.0, -0.0) is not None
    assert describe_mismatch(True, 1) is not None
    assert describe_mismatch(b"ab", [97, 98]) is not None
    assert describe_mismatch(FakeApi.Variant("a", 1), FakeApi.Variant("a", 2)) is not None
    left, right = FakeApi.Record(), FakeApi.Record()
    left.a, right.a = 1, 1  # type: ignore[attr-defined]
    assert describe_mismatch(left, right) is None
    right.b = 2  # type: ignore[attr-defined]
    assert describe_mismatch(left, right) is not None


# -- the suites ----------------------------------------------------------------


def _scripts() -> list[Path]:
    return discover(CONFORMANCE_DIR)


@dataclass
class Session:
    api: ComponentApi
    converter: Converter
    engines: EngineCache
    known: dict[tuple[str, int], str]


@pytest.fixture(scope="module")
def session() -> Session:
    if shutil.which("wasm-tools") is None:
        pytest.skip("`wasm-tools` is not on PATH (needed to convert .wast scripts)")
    try:
        api = load_api()
    except ApiUnavailable as exc:
        pytest.skip(f"conformance API unavailable: {exc}")
    known = known_failures.load(known_failures.known_failures_path(api.name))
    return Session(api, Converter(), EngineCache(), known)


def _report_skips(result: FileResult, newly_passing: list[int]) -> None:
    reasons = Counter(skip.reason for skip in result.skips())
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        warnings.warn(
            f"{result.rel_path}: {count} directive(s) skipped: {reason}",
            ConformanceSkipWarning, stacklevel=2,
        )
    if newly_passing:
        warnings.warn(
            f"{result.rel_path}: known failures now pass at lines {newly_passing}; "
            "prune the known-failures list",
            ConformanceSkipWarning, stacklevel=2,
        )


@pytest.mark.parametrize(
    "script", _scripts(), ids=lambda p: p.relative_to(CONFORMANCE_DIR).as_posix()
)
def test_script(script: Path, session: Session) -> None:
    result = run_file(
        session.api, script, CONFORMANCE_DIR,
        converter=session.converter, engines=session.engines,
    )
    assert result.results, f"{result.rel_path}: no directives found"
    unexpected = [
        f"{result.rel_path}:{d.line} {d.kind}: {d.reason}"
        for d in result.failures()
        if (result.rel_path, d.line) not in session.known
    ]
    failing_lines = {d.line for d in result.failures()}
    newly_passing = sorted(
        line for (rel, line) in session.known
        if rel == result.rel_path and line not in failing_lines
    )
    _report_skips(result, newly_passing)
    assert not unexpected, (
        f"{len(unexpected)} unexpected failure(s) with {session.api.module.__name__} "
        f"(group {group_of(Path(result.rel_path))}):\n" + "\n".join(unexpected)
    )
