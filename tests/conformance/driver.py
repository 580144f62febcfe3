"""Run one converted `.wast` script against a component API.

Mirrors Wasmtime's harness (`crates/wast/src/wast.rs`): one engine per
script configured from its features, one component linker per script with
shadowing allowed and the harness's host items, and a **fresh
`wasmtime.Store` for every instantiated component**.  The most recent
successful `module` / `module_instance` is the "current" instance that
actions invoke; `module_definition` only compiles and remembers a component
by name.  Unlike Wasmtime's harness, a failing directive does not stop the
script: every directive gets its own outcome.

Outcomes and what passes:

* `module` / `module_instance`: compiles (or was defined) and instantiates.
* `module_definition`: compiles.
* `assert_return`: the call returns a value equal to the expected one
  (see `values`); `action`: the call returns without trapping.
* `assert_trap`: the call raises and the expected text is a substring of the
  error (Wasmtime's relaxations for "cannot read"/"cannot write" apply);
  `assert_uninstantiable`: the component compiles and instantiation raises
  with the expected text.
* `assert_unlinkable`: the component compiles and instantiation raises.
* `assert_invalid` / `assert_malformed`: compiling raises.
  With `check_messages=True` (the default) the expected text must also be a
  substring of the error chain for these and `assert_unlinkable`, in every
  suite, as Wasmtime's wast runner requires; `check_messages=False` only
  requires the error.

Skips, always with a reason: scripts under `async/` needing a feature the
API lacks (see `features`); elsewhere, components that fail to compile
because they need such a feature (confirmed by `wasm-tools validate`) and
the directives depending on them; forms `wasm-tools` could not convert;
components that fail to link because they import a host item defined with
the async ABI (or a resource, when the API has no host resources);
memory-hogging scripts when `$WASMCOMPONENT_CONFORMANCE_NO_HOG_MEMORY` is
set; core-wasm-only directives and unknown directive kinds.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .api import ComponentApi
from .convert import Conversion, Converter, validator_features_needed
from .features import PROBES, WASM_TOOLS_NAMES, FeatureSet, features_for
from .spectest_host import HostItems, define_host
from .values import ScriptValueError, describe_mismatch, to_python

PASS, FAIL, SKIP = "pass", "fail", "skip"
EXECUTABLE_KINDS = frozenset({
    "module", "module_definition", "module_instance", "assert_return", "assert_trap",
    "assert_unlinkable", "assert_uninstantiable", "action",
})
REJECTION_KINDS = frozenset({"assert_invalid", "assert_malformed"})
CORE_PREAMBLE = b"\x00asm\x01\x00\x00\x00"


@dataclass(frozen=True)
class DirectiveResult:
    """Outcome of one directive."""

    line: int
    kind: str
    outcome: str
    reason: str = ""


@dataclass
class FileResult:
    """Outcomes of every directive of one script."""

    path: Path
    rel_path: str
    results: list[DirectiveResult] = field(default_factory=list)
    seconds: float = 0.0
    conversion: str = ""

    def counts(self, kinds: frozenset[str] | None = None) -> Counter[str]:
        """pass/fail/skip counts, optionally restricted to some directive kinds."""
        return Counter(r.outcome for r in self.results if kinds is None or r.kind in kinds)

    def failures(self) -> list[DirectiveResult]:
        return [r for r in self.results if r.outcome == FAIL]

    def skips(self) -> list[DirectiveResult]:
        return [r for r in self.results if r.outcome == SKIP]


NO_HOG_MEMORY_ENV = "WASMCOMPONENT_CONFORMANCE_NO_HOG_MEMORY"
NO_MESSAGES_ENV = "WASMCOMPONENT_CONFORMANCE_NO_MESSAGES"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class RunOptions:
    """Knobs of a run.

    `check_messages` (default: on, unless `$WASMCOMPONENT_CONFORMANCE_NO_MESSAGES`
    is set) requires the expected text of `assert_invalid`, `assert_malformed`
    and `assert_unlinkable` in the error chain, as Wasmtime's wast runner does.
    `skip_memory_hogs` (default: `$WASMCOMPONENT_CONFORMANCE_NO_HOG_MEMORY`)
    skips scripts whose header says `hogs_memory = true`, as Wasmtime's
    harness can (`WASMTIME_TEST_NO_HOG_MEMORY`).
    """

    check_messages: bool = field(default_factory=lambda: not _env_flag(NO_MESSAGES_ENV))
    ignore_missing_features: bool = False
    skip_memory_hogs: bool = field(default_factory=lambda: _env_flag(NO_HOG_MEMORY_ENV))


class EngineCache:
    """One `wasmtime.Engine` per distinct feature configuration, per run,
    plus the memoised answers of the feature probes."""

    def __init__(self) -> None:
        self._engines: dict[Any, Any] = {}
        self._probes: dict[tuple[str, Any, str], bool] = {}

    def unavailable(
        self, api: ComponentApi, features: FeatureSet, wanted: list[str]
    ) -> list[str]:
        """Those of `wanted` that neither the config nor the API provide."""
        missing = []
        for feature in wanted:
            key = (api.name, features.cache_key(), feature)
            if key not in self._probes:
                self._probes[key] = self._probe(api, features, feature)
            if not self._probes[key]:
                missing.append(feature)
        return missing

    def _probe(self, api: ComponentApi, features: FeatureSet, feature: str) -> bool:
        probe = PROBES.get(feature)
        if probe is None:
            return False
        try:
            api.attr("Component")(self.get(features), bytes.fromhex(probe))
        except Exception:
            return False
        return True

    def get(self, features: FeatureSet) -> Any:
        import wasmtime

        key = features.cache_key()
        engine = self._engines.get(key)
        if engine is None:
            engine = wasmtime.Engine(features.make_config())
            self._engines[key] = engine
        return engine


@dataclass
class _Failed:
    """Stands in for an instance or definition that did not come into being."""

    outcome: str
    reason: str


class Outcome:
    """Result of invoking a function: a value, or the exception it raised."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


def error_text(exc: BaseException) -> str:
    """The error's class name and message, including chained causes."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def trap_matches(expected: str, actual: str) -> bool:
    """Substring match, with Wasmtime's harness relaxations for component traps."""
    if expected in actual:
        return True
    return any(word in expected and word in actual for word in ("cannot write", "cannot read"))


def _short(text: str, limit: int = 300) -> str:
    text = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_core_module(data: bytes) -> bool:
    """A core module preamble (version 1, layer 0); anything else goes to `Component`."""
    return data[:8] == CORE_PREAMBLE


class ScriptRunner:
    """Executes the directives of one script against one API."""

    def __init__(
        self,
        api: ComponentApi,
        conversion: Conversion,
        features: FeatureSet,
        engine: Any,
        *,
        misc_suite: bool,
        options: RunOptions,
        oracle_features: dict[str, str] | None = None,
        wasm_tools: str = "wasm-tools",
    ) -> None:
        self.api = api
        self.oracle_features = oracle_features or {}
        self.wasm_tools = wasm_tools
        self.conversion = conversion
        self.features = features
        self.engine = engine
        self.options = options
        self.linker = api.attr("Linker")(engine)
        self.linker.allow_shadowing = True
        self.host: HostItems = define_host(api, self.linker, engine, misc_suite=misc_suite)
        self.current: tuple[Any, Any] | _Failed | None = None
        self.definitions: dict[str | None, Any] = {}

    # -- helpers -----------------------------------------------------------

    def _bytes(self, command: dict[str, Any]) -> bytes:
        name = command.get("binary_filename") or command.get("filename")
        if not isinstance(name, str):
            raise KeyError("command has no module file")
        return self.conversion.read_file(name)

    def _source(self, command: dict[str, Any]) -> bytes | str:
        """The module to compile: bytes, or `str` for text (`module_type: text`) modules."""
        data = self._bytes(command)
        if command.get("module_type") == "text" and not command.get("binary_filename"):
            return data.decode("utf-8", errors="replace")
        return data

    def _compile(self, data: bytes | str) -> Any:
        if isinstance(data, bytes) and is_core_module(data):
            import wasmtime

            return wasmtime.Module(self.engine, data)
        return self.api.attr("Component")(self.engine, data)

    def _compile_failure(self, data: bytes, exc: BaseException) -> tuple[str, str]:
        """Outcome for a component that should compile but did not."""
        needed = validator_features_needed(data, self.oracle_features, self.wasm_tools)
        if needed:
            return SKIP, (
                f"needs feature(s) {', '.join(needed)}, not available in "
                f"`{self.api.module.__name__}` (wasm-tools validate confirms)"
            )
        return FAIL, f"compile failed: {_short(error_text(exc))}"

    def _unsupported_import(self, data: bytes) -> str | None:
        """Reason to skip if the component names a host item we cannot define."""
        for name, reason in self.host.unsupported.items():
            if name.encode() in data:
                return f"imports `{name}`: {reason}"
        return None

    def _instantiate(self, component: Any) -> tuple[Any, Any]:
        import wasmtime

        store = wasmtime.Store(self.engine)
        return store, self.linker.instantiate(store, component)

    # -- directives --------------------------------------------------------

    def run(self, command: dict[str, Any]) -> DirectiveResult:
        kind = str(command.get("type", "?"))
        line = int(command.get("line", 0))
        handler = getattr(self, f"_do_{kind}", None)
        if handler is None:
            return DirectiveResult(line, kind, SKIP, f"directive `{kind}` not supported")
        try:
            outcome, reason = handler(command)
        except Exception as exc:  # a driver-side surprise is this directive's failure
            outcome, reason = FAIL, f"driver error: {_short(error_text(exc))}"
        return DirectiveResult(line, kind, outcome, reason)

    def _instantiate_named(
        self, data: bytes | None, component: Any, name: str | None, line: int
    ) -> tuple[str, str]:
        if is_core_module(data or b"") or not _is_component(self.api, component):
            self.current = _Failed(SKIP, f"core module at line {line} (core wasm is not in scope)")
            return SKIP, "core wasm module instances are not in scope"
        try:
            self.current = self._instantiate(component)
        except Exception as exc:
            unsupported = self._unsupported_import(data) if data is not None else None
            if unsupported:
                self.current = _Failed(SKIP, f"instance at line {line} skipped ({unsupported})")
                return SKIP, unsupported
            self.current = _Failed(FAIL, f"instance at line {line} failed to instantiate")
            return FAIL, f"instantiation failed: {_short(error_text(exc))}"
        if name:
            self._register_exports(str(name), component, *self.current)
        return PASS, ""

    def _register_exports(self, name: str, component: Any, store: Any, instance: Any) -> None:
        """Reflect a named instance's exported core modules / resources into the linker.

        Wasmtime's harness does this so later components can import them as
        instance `name`.  It needs `Instance.get_module` / `get_resource`,
        which wasmtime-py 50 lacks; with such an API nothing is registered
        and the importing components fail to link.
        """
        get_module = getattr(instance, "get_module", None)
        get_resource = getattr(instance, "get_resource", None)
        if get_module is None and get_resource is None:
            return
        try:
            exports = component.type.exports(self.engine)
            with self.linker.root() as root, root.add_instance(name) as target:
                for export_name, extern in exports.items():
                    item = getattr(extern, "ty", None) or getattr(extern, "type", extern)
                    kind = type(item).__name__
                    if kind == "ModuleType" and get_module is not None:
                        target.add_module(export_name, get_module(store, export_name))
                    elif kind == "ResourceType" and get_resource is not None:
                        target.add_resource(
                            export_name, get_resource(store, export_name), lambda _s, _r: None
                        )
        except Exception:
            return  # best effort, as the harness only reflects what it can

    def _do_module(self, command: dict[str, Any]) -> tuple[str, str]:
        line = int(command.get("line", 0))
        data = self._bytes(command)
        try:
            component = self._compile(data)
        except Exception as exc:
            outcome, reason = self._compile_failure(data, exc)
            self.current = _Failed(outcome, f"module at line {line}: {reason}")
            return outcome, reason
        return self._instantiate_named(data, component, command.get("name"), line)

    def _do_module_definition(self, command: dict[str, Any]) -> tuple[str, str]:
        line = int(command.get("line", 0))
        data = self._bytes(command)
        name = command.get("name")
        try:
            component = self._compile(data)
        except Exception as exc:
            outcome, reason = self._compile_failure(data, exc)
            self.definitions[name] = _Failed(outcome, f"definition at line {line}: {reason}")
            return outcome, reason
        self.definitions[name] = (data, component)
        return PASS, ""

    def _do_module_instance(self, command: dict[str, Any]) -> tuple[str, str]:
        line = int(command.get("line", 0))
        definition = self.definitions.get(command.get("module"))
        if definition is None:
            self.current = _Failed(FAIL, f"instance at line {line} has no definition")
            return FAIL, f"no component definition named {command.get('module')!r}"
        if isinstance(definition, _Failed):
            self.current = _Failed(definition.outcome, definition.reason)
            return definition.outcome, definition.reason
        data, component = definition
        return self._instantiate_named(data, component, command.get("instance"), line)

    def _do_register(self, command: dict[str, Any]) -> tuple[str, str]:
        return SKIP, "`register` is not implemented for components (as in Wasmtime's harness)"

    def _invoke(self, command: dict[str, Any]) -> tuple[Outcome | None, str, str, Any]:
        """Call the action's function: (outcome, skip/fail outcome, reason, result type)."""
        action = command.get("action") or {}
        if action.get("type") != "invoke":
            return None, SKIP, f"action `{action.get('type')}` not supported for components", None
        if action.get("module"):
            return None, SKIP, "invoking a named instance is not supported for components", None
        current = self.current
        if current is None:
            return None, FAIL, "no instance to invoke", None
        if isinstance(current, _Failed):
            return None, current.outcome, current.reason, None
        store, instance = current
        field_name = str(action.get("field"))
        func = instance.get_func(store, field_name)
        if func is None:
            return None, FAIL, f"no func named `{field_name}`", None
        func_type = func.type(store)
        params = list(func_type.params)
        args_json = list(action.get("args") or [])
        if len(args_json) != len(params):
            return None, FAIL, f"expected {len(params)} arguments, script gives {len(args_json)}", None
        try:
            args = [to_python(arg, ty, self.api.module) for arg, (_, ty) in zip(args_json, params, strict=True)]
        except ScriptValueError as exc:
            return None, FAIL, f"argument: {exc}", None
        result_type = func_type.result
        try:
            value = func(store, *args)
            post_return = getattr(func, "post_return", None)
            if post_return is not None:
                post_return(store)
        except Exception as exc:
            return Outcome(error=exc), "", "", result_type
        return Outcome(value), "", "", result_type

    def _do_assert_return(self, command: dict[str, Any]) -> tuple[str, str]:
        outcome, status, reason, result_type = self._invoke(command)
        if outcome is None:
            return status, reason
        if outcome.error is not None:
            return FAIL, f"unexpected trap: {_short(error_text(outcome.error))}"
        expected_json = list(command.get("expected") or [])
        if result_type is None:
            if expected_json:
                return FAIL, "function has no result but the script expects one"
            if outcome.value is not None:
                return FAIL, f"expected no result, got {outcome.value!r}"
            return PASS, ""
        if len(expected_json) != 1:
            return FAIL, f"expected {len(expected_json)} results, function has 1"
        try:
            expected = to_python(expected_json[0], result_type, self.api.module)
        except ScriptValueError as exc:
            return FAIL, f"result: {exc}"
        problem = describe_mismatch(expected, outcome.value)
        return (FAIL, problem) if problem else (PASS, "")

    def _do_action(self, command: dict[str, Any]) -> tuple[str, str]:
        outcome, status, reason, _ = self._invoke(command)
        if outcome is None:
            return status, reason
        if outcome.error is not None:
            return FAIL, f"unexpected trap: {_short(error_text(outcome.error))}"
        return PASS, ""

    def _do_assert_trap(self, command: dict[str, Any]) -> tuple[str, str]:
        outcome, status, reason, _ = self._invoke(command)
        if outcome is None:
            return status, reason
        expected = str(command.get("text", ""))
        if outcome.error is None:
            return FAIL, f"expected trap `{expected}`, got {outcome.value!r}"
        actual = error_text(outcome.error)
        if trap_matches(expected, actual):
            return PASS, ""
        return FAIL, f"expected trap `{expected}`, got: {_short(actual)}"

    def _do_assert_uninstantiable(self, command: dict[str, Any]) -> tuple[str, str]:
        data = self._bytes(command)
        try:
            component = self._compile(data)
        except Exception as exc:
            return self._compile_failure(data, exc)
        expected = str(command.get("text", ""))
        try:
            self._instantiate(component)
        except Exception as exc:
            actual = error_text(exc)
            if trap_matches(expected, actual):
                return PASS, ""
            unsupported = self._unsupported_import(data)
            if unsupported:
                return SKIP, unsupported
            return FAIL, f"expected `{expected}`, got: {_short(actual)}"
        return FAIL, f"expected instantiation to fail with `{expected}`"

    def _do_assert_unlinkable(self, command: dict[str, Any]) -> tuple[str, str]:
        data = self._bytes(command)
        try:
            component = self._compile(data)
        except Exception as exc:
            return self._compile_failure(data, exc)
        try:
            self._instantiate(component)
        except Exception as exc:
            return self._message_check(str(command.get("text", "")), exc)
        return FAIL, "expected the component to fail to link"

    def _do_assert_invalid(self, command: dict[str, Any]) -> tuple[str, str]:
        try:
            self._compile(self._source(command))
        except Exception as exc:
            return self._message_check(str(command.get("text", "")), exc)
        return FAIL, f"expected compile error `{command.get('text', '')}`, compiled fine"

    _do_assert_malformed = _do_assert_invalid

    def _message_check(self, expected: str, exc: BaseException) -> tuple[str, str]:
        if not self.options.check_messages:
            return PASS, ""
        actual = error_text(exc)
        if expected in actual:
            return PASS, ""
        return FAIL, f"expected error `{expected}`, got: {_short(actual)}"


def _is_component(api: ComponentApi, obj: Any) -> bool:
    component_cls = api.attr("Component")
    return component_cls is not None and isinstance(obj, component_cls)


def _mark_all(conversion: Conversion, result: FileResult, outcome: str, reason: str) -> None:
    """Give every converted directive the same outcome."""
    for command in conversion.commands:
        line, kind = int(command.get("line", 0)), str(command.get("type", "?"))
        result.results.append(DirectiveResult(line, kind, outcome, reason))


def _run_commands(
    api: ComponentApi,
    conversion: Conversion,
    features: FeatureSet,
    rel: PurePath,
    result: FileResult,
    converter: Converter,
    engines: EngineCache,
    options: RunOptions,
) -> None:
    """Set up engine, linker and host for one script, then run its directives."""
    oracle = {
        key: WASM_TOOLS_NAMES[key]
        for key in engines.unavailable(api, features, features.per_component)
        if key in WASM_TOOLS_NAMES
    }
    try:
        runner = ScriptRunner(
            api, conversion, features, engines.get(features),
            misc_suite=rel.parts[:1] == ("wasmtime",), options=options,
            oracle_features=oracle, wasm_tools=converter.wasm_tools,
        )
    except Exception as exc:  # the API could not even set up a linker
        _mark_all(conversion, result, FAIL, f"harness setup failed: {_short(error_text(exc))}")
        return
    # A module wasm-tools could not convert leaves the directives after it
    # without their instance: they are skipped for that reason, not failed.
    unconverted = sorted(
        (form.line, form.reason) for form in conversion.skipped_forms if form.kind in ("module", "component")
    )
    for command in conversion.commands:
        line = command.get("line", 0)
        while unconverted and unconverted[0][0] < line:
            form_line, reason = unconverted.pop(0)
            runner.current = _Failed(SKIP, f"module at line {form_line} could not be converted ({reason})")
        result.results.append(runner.run(command))


def run_file(
    api: ComponentApi,
    path: Path,
    conformance_dir: Path,
    *,
    converter: Converter | None = None,
    engines: EngineCache | None = None,
    options: RunOptions | None = None,
) -> FileResult:
    """Convert and run the script at `path`; never raises for script problems."""
    started = time.perf_counter()
    converter = converter or Converter()
    engines = engines or EngineCache()
    options = options or RunOptions()
    rel: PurePath
    try:
        rel = path.resolve().relative_to(conformance_dir.resolve())
    except ValueError:
        rel = PurePath(path.name)
    result = FileResult(path, rel.as_posix())
    text = path.read_text(encoding="utf-8", errors="replace")
    conversion = converter.convert(path)
    result.conversion = conversion.method
    for form in conversion.skipped_forms:
        result.results.append(
            DirectiveResult(form.line, form.kind, SKIP, f"wasm-tools cannot convert: {form.reason}")
        )
    features = features_for(rel, text)
    missing = engines.unavailable(api, features, features.required)
    if options.skip_memory_hogs and features.values.get("hogs_memory"):
        _mark_all(conversion, result, SKIP, f"script hogs memory (${NO_HOG_MEMORY_ENV} is set)")
    elif missing and not options.ignore_missing_features:
        reason = (
            f"needs feature(s) {', '.join(missing)}: not settable in wasmtime.Config "
            f"and not enabled in `{api.module.__name__}`"
        )
        _mark_all(conversion, result, SKIP, reason)
    else:
        _run_commands(api, conversion, features, rel, result, converter, engines, options)
    result.results.sort(key=lambda r: r.line)
    result.seconds = time.perf_counter() - started
    return result
