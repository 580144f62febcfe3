"""Translation of the async constructs into the plan (issue #12, point 1).

Async lifts and lowers keep their ``async`` option and ``(callback ...)`` in
``OptionsDef``; every other ``canon`` built-in becomes a ``Builtin``
trampoline with its immediates resolved.  The components come from inline
WAT and from the async conformance suites (``../shared/conformance``,
converted with ``wasm-tools`` as ``tests/conformance`` does).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path, PurePath
from typing import Any

import pytest
import wasmtime

from wasmcomponent import Component
from wasmcomponent.binary import ast
from wasmcomponent.binary.decoder import decode_component
from wasmcomponent.errors import UnsupportedError, ValidationError
from wasmcomponent.translate import plan as p
from wasmcomponent.translate import serial
from wasmcomponent.types import model
from wasmcomponent.types.abi import (
    MAX_FLAT_ASYNC_PARAMS,
    MAX_FLAT_PARAMS,
    flatten_functype,
    flatten_types,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

LIBC = """
  (core module $libc
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (table (export "tbl") 1 funcref))
  (core instance $libc (instantiate $libc))
"""

BUILTINS_WAT = f"""
(component
  (type $s (stream u8))
  (type $f (future string))
  (type $r (record (field "a" u32) (field "b" string)))
  {LIBC}
  (core func $read (canon stream.read $s async
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core func $new (canon stream.new $s))
  (core func $fread (canon future.read $f
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core func $ret (canon task.return (result $r) (memory (core memory $libc "mem"))))
  (core func $ret0 (canon task.return))
  (core func $wait (canon waitable-set.wait (memory (core memory $libc "mem"))))
  (core func $cget (canon context.get i32 1))
  (core func $cset (canon context.set i32 0))
  (core func $cancel (canon subtask.cancel async))
  (core func $cancel-read (canon stream.cancel-read $s async))
  (core func $fdrop (canon future.drop-writable $f))
  (core func $yield (canon thread.yield))
  (core type $start (func (param i32)))
  (core func $spawn (canon thread.new-indirect $start (core table $libc "tbl")))
  (core func $bp (canon backpressure.inc))
)
"""

LIFT_LOWER_WAT = f"""
(component
  (import "host" (func $host async (param "a" string) (result u32)))
  {LIBC}
  (core func $host-async (canon lower (func $host) async (memory (core memory $libc "mem"))))
  (core func $host-sync (canon lower (func $host) (memory (core memory $libc "mem"))))
  (core module $m
    (import "" "host-async" (func (param i32 i32 i32) (result i32)))
    (import "" "host-sync" (func (param i32 i32) (result i32)))
    (func (export "stackful") (param i32))
    (func (export "run") (param i32) (result i32) unreachable)
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable)
    (func (export "plain") (param i32) (result i32) unreachable))
  (core instance $i (instantiate $m (with "" (instance
    (export "host-async" (func $host-async))
    (export "host-sync" (func $host-sync))))))
  (func (export "stackful") async (param "x" u32) (result u32) (canon lift (core func $i "stackful") async))
  (func (export "callback") async (param "x" u32) (result u32)
    (canon lift (core func $i "run") async (callback (core func $i "cb"))))
  (func (export "sync-lift") async (param "x" u32) (result u32) (canon lift (core func $i "plain")))
)
"""

SYNC_WAT = """
(component
  (core module $m (func (export "f") (param i32) (result i32) local.get 0))
  (core instance $i (instantiate $m))
  (func (export "f") (param "x" u32) (result u32) (canon lift (core func $i "f")))
)
"""


def _plan(wat_or_bytes: Any) -> p.Plan:
    return Component(wasmtime.Engine(), wat_or_bytes)._plan


def _builtins(plan: p.Plan) -> dict[str, p.Builtin]:
    """The first ``Builtin`` of each name."""
    found: dict[str, p.Builtin] = {}
    for t in plan.trampolines:
        if isinstance(t, p.Builtin):
            found.setdefault(t.name, t)
    return found


def test_builtins_carry_their_immediates() -> None:
    plan = _plan(BUILTINS_WAT)
    assert plan.uses_async
    b = _builtins(plan)
    mem, realloc = p.CoreExport(0, "mem"), p.CoreExport(0, "realloc")

    read = b["stream.read"]
    assert read.type == model.StreamType(model.U8)
    assert read.options is not None
    opts = plan.options[read.options]
    assert (opts.memory, opts.realloc, opts.is_async, opts.callback) == (mem, realloc, True, None)

    assert b["stream.new"].type == model.StreamType(model.U8) and b["stream.new"].options is None
    fread = b["future.read"]
    assert fread.type == model.FutureType(model.STRING)
    assert fread.options is not None and not plan.options[fread.options].is_async
    assert b["future.drop-writable"].type == model.FutureType(model.STRING)

    ret = b["task.return"]
    assert ret.result == model.RecordType((("a", model.U32), ("b", model.STRING)))
    assert ret.options is not None and plan.options[ret.options].memory == mem

    wait = b["waitable-set.wait"]
    assert wait.options is not None and not wait.cancellable
    wait_opts = plan.options[wait.options]
    assert (wait_opts.memory, wait_opts.realloc, wait_opts.is_async) == (mem, None, False)

    assert b["context.get"].slot == 1 and b["context.set"].slot == 0
    assert b["subtask.cancel"].is_async and b["stream.cancel-read"].is_async
    assert b["stream.cancel-read"].type == model.StreamType(model.U8)
    spawn = b["thread.new-indirect"]
    assert spawn.core_type == (("i32",), ()) and spawn.table == p.CoreExport(0, "tbl")
    bp = b["backpressure.inc"]
    assert (bp.options, bp.type, bp.result, bp.is_async, bp.cancellable, bp.slot) == (None, None, None, False, False, 0)
    assert all(t.component_instance == 0 for t in b.values())
    # Each built-in is a core function: a module can import it through its TrampolineRef.
    assert [t.index for t in (p.TrampolineRef(i) for i, _ in enumerate(plan.trampolines))] == list(
        range(len(plan.trampolines))
    )


def test_task_return_without_result() -> None:
    plan = _plan(BUILTINS_WAT)
    returns = [t for t in plan.trampolines if isinstance(t, p.Builtin) and t.name == "task.return"]
    assert [r.result is None for r in returns] == [False, True]


def _set_flag(data: bytes, name: str) -> bytes:
    """``data`` with the flag byte right after ``name``'s opcode set (text syntax cannot say
    ``cancellable`` any more, the binary still carries it)."""
    tree = decode_component(data)
    for section in tree.sections:
        if isinstance(section, ast.CanonSection):
            for canon in section.funcs:
                if isinstance(canon, ast.CanonBuiltin) and canon.name == name:
                    assert data[canon.offset] == canon.opcode and data[canon.offset + 1] == 0
                    return data[: canon.offset + 1] + b"\x01" + data[canon.offset + 2 :]
    raise AssertionError(f"no {name} in the component")


def test_cancellable_flag() -> None:
    wat = f"""(component {LIBC}
      (core func (canon waitable-set.poll (memory (core memory $libc "mem"))))
      (core func (canon thread.yield)))"""
    data = _set_flag(_set_flag(bytes(wasmtime.wat2wasm(wat)), "waitable-set.poll"), "thread.yield")
    b = _builtins(_plan(data))
    assert b["waitable-set.poll"].cancellable and b["thread.yield"].cancellable
    assert b["waitable-set.poll"].options is not None


def test_async_lift_and_lower_options() -> None:
    plan = _plan(LIFT_LOWER_WAT)
    assert plan.uses_async
    lowers = [t for t in plan.trampolines if isinstance(t, p.LowerImport)]
    assert [plan.options[t.options].is_async for t in lowers] == [True, False]
    assert all(t.type.is_async for t in lowers)

    def lifted(name: str) -> tuple[p.LiftedFunc, p.OptionsDef]:
        export = plan.exports[name]
        assert isinstance(export, p.ExportFunc) and isinstance(export.func, p.LiftedFunc)
        return export.func, plan.options[export.func.options]

    func, opts = lifted("stackful")
    assert opts.is_async and opts.callback is None and func.type.is_async
    func, opts = lifted("callback")
    assert opts.is_async and opts.callback == p.CoreExport(1, "cb")
    assert func.core == p.CoreExport(1, "run")
    func, opts = lifted("sync-lift")  # an async type lifted synchronously
    assert not opts.is_async and func.type.is_async


def test_sync_component_does_not_use_async() -> None:
    plan = _plan(SYNC_WAT)
    assert not plan.uses_async
    assert not any(isinstance(t, p.Builtin) for t in plan.trampolines)
    assert all(o.callback is None and not o.is_async for o in plan.options)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("(type $t (future u8)) (core func (canon stream.new $t))", ValidationError,
         "`stream.new` requires a stream type"),
        ("(type $t (stream u8)) (core func (canon future.read $t))", ValidationError,
         "`future.read` requires a future type"),
        ("(type $t (list u8)) (core func (canon stream.drop-readable $t))", ValidationError,
         "`stream.drop-readable` requires a stream type"),
        ("(core type $t (func (param i32))) (core func (canon thread.new-indirect 5 (core table 0)))",
         ValidationError, "core type index out of bounds"),
    ],
)
def test_builtins_with_bad_types_are_invalid(body: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _plan(f"(component {body})")


@pytest.mark.parametrize(
    ("canon", "error", "message"),
    [
        ("0a7d00", ValidationError, "`context.get` only supports `i32` or `i64`"),
        ("0b7f02", ValidationError, "`context.set` immediate must be zero or one: 2"),
        ("0a7e00", UnsupportedError, "unsupported context.get type: i64"),
    ],
)
def test_context_slot_immediates(canon: str, error: type, message: str) -> None:
    # One canon section holding one built-in, in binary (the text parser refuses these first).
    data = bytes.fromhex("0061736d0d000100" "0804" "01" + canon)
    with pytest.raises(error, match=message):
        _plan(data)


def test_shared_everything_threads_are_unsupported() -> None:
    # (core func (canon thread.available-parallelism)) in binary: wasmtime refuses it too.
    data = bytes.fromhex("0061736d0d000100" "0803014200")
    with pytest.raises(UnsupportedError, match="`canon thread.available-parallelism` is not supported"):
        _plan(data)


# -- the async conformance suites ------------------------------------------------


def _suite_scripts() -> list[Path]:
    from conformance.suites import default_conformance_dir

    root = default_conformance_dir()
    scripts: list[Path] = []
    for folder in ("component-model/async", "wasmtime/async"):
        directory = root / folder
        if directory.is_dir():
            scripts.extend(sorted(directory.glob("*.wast")))
    return scripts


SCRIPTS = _suite_scripts()


def _valid_components(script: Path) -> list[tuple[int, bytes, wasmtime.Engine]]:
    """The components of ``script`` that its directives expect to load, with an engine
    configured as the conformance driver configures it."""
    from conformance.convert import Converter
    from conformance.features import features_for
    from conformance.suites import default_conformance_dir

    if shutil.which("wasm-tools") is None:
        pytest.skip("`wasm-tools` is not on PATH")
    conversion = Converter().convert(script)
    rel = PurePath(script.resolve().relative_to(default_conformance_dir().resolve()))
    engine = wasmtime.Engine(features_for(rel, script.read_text()).make_config())
    found = []
    for command in conversion.commands:
        if command.get("type") not in ("module", "module_definition"):
            continue
        data = conversion.read_file(str(command["filename"]))
        if not data.startswith(b"\0asm\x0d\0\x01\0"):
            continue  # a core module
        found.append((int(command["line"]), data, engine))
    return found


def _core_functype(module: wasmtime.Module, *, export: str = "", import_at: int = -1) -> model.CoreFuncType:
    extern = module.imports[import_at].type if import_at >= 0 else next(
        e.type for e in module.exports if e.name == export
    )
    assert isinstance(extern, wasmtime.FuncType)
    return model.CoreFuncType(tuple(map(str, extern.params)), tuple(map(str, extern.results)))


def _check_signatures(component: Component) -> set[tuple[str, bool, bool, bool]]:
    """Compare ``flatten_functype`` with the core signatures of the lifted functions (exported
    or lowered again) and of the module imports that lowers fill.

    Returns the cases compared: ``('lift', async, callback, has result)`` and
    ``('lower', async, params spilled, has result)``."""
    plan = component._plan
    steps = {s.instance: s for s in plan.steps if isinstance(s, p.InstantiateModule)}
    checked: set[tuple[str, bool, bool, bool]] = set()

    def module_of(instance: int) -> wasmtime.Module | None:
        step = steps.get(instance)
        if step is None or not isinstance(step.module, p.StaticModule):
            return None
        return component._static_module(step.module.index)

    def memory64(opts: p.OptionsDef) -> bool:
        if not isinstance(opts.memory, p.CoreExport):
            return False
        module = module_of(opts.memory.instance)
        if module is None:
            return False
        memory = next(e.type for e in module.exports if e.name == opts.memory.name)
        assert isinstance(memory, wasmtime.MemoryType)
        return bool(memory.is_64)

    def check_lift(func: p.LiftedFunc) -> None:
        opts = plan.options[func.options]
        module = module_of(func.core.instance) if isinstance(func.core, p.CoreExport) else None
        if module is None:
            return
        assert isinstance(func.core, p.CoreExport)
        expected = flatten_functype(
            func.type, "lift", memory64(opts), is_async=opts.is_async, callback=opts.callback is not None
        )
        assert _core_functype(module, export=func.core.name) == expected
        checked.add(("lift", opts.is_async, opts.callback is not None, func.type.result is not None))

    for item in plan.exports.values():
        if isinstance(item, p.ExportFunc) and isinstance(item.func, p.LiftedFunc):
            check_lift(item.func)
    for step in steps.values():
        module = module_of(step.instance)
        if module is None:
            continue
        for position, arg in enumerate(step.args):
            if not isinstance(arg, p.TrampolineRef):
                continue
            trampoline = plan.trampolines[arg.index]
            if isinstance(trampoline, (p.LowerImport, p.LowerLifted)):
                opts = plan.options[trampoline.options]
                expected = flatten_functype(trampoline.type, "lower", memory64(opts), is_async=opts.is_async)
                assert _core_functype(module, import_at=position) == expected
                flat = flatten_types([t for _, t in trampoline.type.params])
                spilled = len(flat) > (MAX_FLAT_ASYNC_PARAMS if opts.is_async else MAX_FLAT_PARAMS)
                checked.add(("lower", opts.is_async, spilled, trampoline.type.result is not None))
            if isinstance(trampoline, p.LowerLifted):
                check_lift(trampoline.callee)
    return checked


@pytest.mark.skipif(not SCRIPTS, reason="async conformance scripts not found")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: f"{s.parent.parent.name}/{s.parent.name}/{s.name}")
def test_suite_components_translate(script: Path) -> None:
    """Every component the async suites expect to load translates; its plan uses async
    exactly when its text does, survives the plan codec, and agrees with ``flatten_functype`` on its core signatures."""
    components = _valid_components(script)
    if not components:
        pytest.skip("no loadable component in this script")
    for line, data, engine in components:
        try:
            component = Component(engine, data)
        except Exception as exc:  # pragma: no cover - the failure message names the directive
            raise AssertionError(f"{script.name}:{line}: {type(exc).__name__}: {exc}") from exc
        plan = component._plan
        assert plan.uses_async == _declares_async(decode_component(data)), f"{script.name}:{line}"
        stripped = serial.dumps_plan(_stripped(plan))
        assert serial.dumps_plan(serial.loads_plan(stripped)) == stripped
        _check_signatures(component)


def _declares_async(component: ast.ComponentAST) -> bool:
    """Whether the component's text (nested components included) has an ``async`` lift or
    lower or a built-in other than ``resource.*``, read off the syntax tree."""
    for section in component.sections:
        if isinstance(section, ast.ComponentSection) and _declares_async(section.component):
            return True
        if isinstance(section, ast.CanonSection):
            for canon in section.funcs:
                if isinstance(canon, ast.CanonBuiltin):
                    return True
                if isinstance(canon, (ast.CanonLift, ast.CanonLower)) and canon.options.is_async:
                    return True
    return False


def _stripped(plan: p.Plan) -> p.Plan:
    import dataclasses

    return dataclasses.replace(plan, modules=[b""] * len(plan.modules))


def test_suite_signatures_are_compared() -> None:
    """``flatten_functype``'s async cases meet real core modules (not vacuously)."""
    names = ("cross-abi-calls.wast", "stackful.wast", "task-return-traps.wast")
    scripts = [s for s in SCRIPTS if s.name in names]
    if len(scripts) != len(names):
        pytest.skip("async conformance scripts not found")
    compared: set[tuple[str, bool, bool, bool]] = set()
    for script in scripts:
        for _, data, engine in _valid_components(script):
            compared |= _check_signatures(Component(engine, data))
    for callback in (False, True):
        for has_result in (False, True):
            assert ("lift", True, callback, has_result) in compared
    assert ("lower", True, True, False) in compared  # more than 4 flat params spill
    assert ("lower", True, False, True) in compared  # a result adds an out-pointer
    assert ("lower", False, True, False) in compared
