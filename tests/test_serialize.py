"""``Component.serialize``/``deserialize`` and the on-disk compile cache."""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import components as C
from wasmcomponent import Component, Linker
from wasmcomponent.runtime import cache
from wasmcomponent.runtime.cache import (
    ENTRY_MAGIC,
    MAGIC,
    default_cache_dir,
    engine_fingerprint,
    load_component,
)
from wasmcomponent.translate import plan as p
from wasmcomponent.translate import serial

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _private_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache key file, never the user's."""
    key = tmp_path / "config" / "wasmcomponent" / "cache.key"
    monkeypatch.setenv(cache.CACHE_KEY_ENV, str(key))
    return key


def _built() -> C.Built:
    imp = C.Import("host-fn", (("x", C.U32),), C.U32)
    exports = [
        *C.simple_component().exports,
        C.identity_export("echo", [("x", C.STRING)]),
        C.forward_export("call-host", imp),
    ]
    return C.build_component(exports, [imp])


def _exercise(engine: wasmtime.Engine, component: Component) -> None:
    store = wasmtime.Store(engine)
    linker = Linker(engine)
    with linker.root() as root:
        root.add_func("host-fn", lambda _store, x: x * 2)
    instance = linker.instantiate(store, component)
    assert instance.get_func(store, "add")(store, 2, 3) == 5
    assert instance.get_func(store, "echo")(store, "wörld") == "wörld"
    assert instance.get_func(store, "call-host")(store, 21) == 42


def test_roundtrip_runs_the_same() -> None:
    engine = wasmtime.Engine()
    original = Component(engine, _built().wat)
    data = original.serialize()
    assert isinstance(data, bytearray) and bytes(data).startswith(MAGIC)
    copy = Component.deserialize(engine, data)
    _exercise(engine, copy)
    assert sorted(copy.type.exports(engine)) == sorted(original.type.exports(engine))
    assert copy.get_export_index("add") is not None


def test_deserialize_into_another_compatible_engine_and_file(tmp_path: Path) -> None:
    data = Component(wasmtime.Engine(), _built().wat).serialize()
    path = tmp_path / "c.wcc"
    path.write_bytes(data)
    engine = wasmtime.Engine()
    _exercise(engine, Component.deserialize_file(engine, path))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: b"garbage" + d,
        lambda d: d[: len(MAGIC) + 2],
        lambda d: d.replace(b'"format": 2', b'"format": 9'),
        lambda d: d[:-100],
    ],
    ids=["magic", "truncated-header", "format", "truncated-body"],
)
def test_bad_bytes_are_refused(mangle: object) -> None:
    engine = wasmtime.Engine()
    data = bytes(Component(engine, _built().wat).serialize())
    with pytest.raises(wasmtime.WasmtimeError):
        Component.deserialize(engine, mangle(data))  # type: ignore[operator]


def test_incompatible_engine_is_refused() -> None:
    config = wasmtime.Config()
    config.consume_fuel = True
    data = Component(wasmtime.Engine(config), _built().wat).serialize()
    with pytest.raises(wasmtime.WasmtimeError):
        Component.deserialize(wasmtime.Engine(), data)


def test_engine_fingerprint_follows_configuration() -> None:
    plain = engine_fingerprint(wasmtime.Engine())
    assert plain == engine_fingerprint(wasmtime.Engine())
    config = wasmtime.Config()
    config.consume_fuel = True
    assert plain != engine_fingerprint(wasmtime.Engine(config))


def test_cache_compiles_once_then_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = wasmtime.Engine()
    source = tmp_path / "c.wat"
    source.write_text(_built().wat)
    first = load_component(engine, source, tmp_path / "cache")
    entries = list((tmp_path / "cache").glob("*.wcc"))
    assert len(entries) == 1
    _exercise(engine, first)

    def no_compile(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled although cached")

    monkeypatch.setattr(cache, "_compile_with_progress", no_compile)
    second = load_component(engine, source.read_bytes(), tmp_path / "cache")
    _exercise(engine, second)


def test_cache_recompiles_a_corrupt_entry_and_keys_on_engine(tmp_path: Path) -> None:
    engine = wasmtime.Engine()
    wat = _built().wat.encode()
    load_component(engine, wat, tmp_path)
    (entry,) = tmp_path.glob("*.wcc")
    entry.write_bytes(b"corrupt")
    _exercise(engine, load_component(engine, wat, tmp_path))
    assert entry.read_bytes().startswith(ENTRY_MAGIC)
    config = wasmtime.Config()
    config.consume_fuel = True
    load_component(wasmtime.Engine(config), wat, tmp_path)
    assert len(list(tmp_path.glob("*.wcc"))) == 2


def test_cache_survives_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    engine = wasmtime.Engine()
    _exercise(engine, load_component(engine, _built().wat.encode(), blocker / "cache"))


def test_progress_line_for_slow_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "PROGRESS_AFTER", 0.0)
    stream = io.StringIO()
    load_component(wasmtime.Engine(), _built().wat.encode(), tmp_path, progress=stream)
    text = stream.getvalue()
    assert "compiling component" in text and "compiled component in" in text


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WASMCOMPONENT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("WASMCOMPONENT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "wasmcomponent"


def test_cache_is_trimmed_to_its_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oldest entries go first once the cache exceeds ``$WASMCOMPONENT_CACHE_MAX_BYTES``; the new one stays."""
    import os

    engine = wasmtime.Engine()
    directory = tmp_path / "cache"
    directory.mkdir()
    for age, name in enumerate(["old.wcc", "newer.wcc"]):
        (directory / name).write_bytes(b"x" * 1000)
        os.utime(directory / name, (1_000_000 + age, 1_000_000 + age))
    monkeypatch.setenv(cache.CACHE_MAX_ENV, "1")  # smaller than anything: keep only the fresh entry
    load_component(engine, _built().wat.encode(), directory)
    remaining = sorted(p.name for p in directory.glob("*.wcc"))
    assert len(remaining) == 1 and remaining[0] not in ("old.wcc", "newer.wcc")
    monkeypatch.setenv(cache.CACHE_MAX_ENV, str(10**9))
    (directory / "other.wcc").write_bytes(b"y")
    load_component(engine, _built().wat.encode() + b" ", directory)  # a different key: a second entry
    assert len(list(directory.glob("*.wcc"))) == 3  # under the cap nothing is deleted


# ------------------------------------------------------------------ the data-only plan encoding

RESOURCE_WAT = """
(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (core module $m
    (import "" "new" (func $new (param i32) (result i32)))
    (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
    (func (export "get") (param i32) (result i32) (local.get 0)))
  (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
  (export $R "r" (type $r))
  (func $make (param "x" u32) (result (own $R)) (canon lift (core func $i "make")))
  (func $get (param "h" (borrow $R)) (result u32) (canon lift (core func $i "get")))
  (export "make" (func $make))
  (export "get" (func $get))
)
"""


def _stripped(component: Component) -> p.Plan:
    return dataclasses.replace(component._plan, modules=[b""] * len(component._plan.modules))


def test_codec_registry_covers_every_field() -> None:
    """A field added to a plan or model class must be added to the codec's schema too."""
    for cls in serial.registered_classes():
        assert serial.registered_fields(cls) == serial.field_names(cls), cls.__name__


def test_plan_reencodes_identically() -> None:
    """decode then encode gives the same bytes: structure, order, types and sharing all survive."""
    for wat in (_built().wat, RESOURCE_WAT):
        encoded = serial.dumps_plan(_stripped(Component(wasmtime.Engine(), wat)))
        assert serial.dumps_plan(serial.loads_plan(encoded)) == encoded


def test_resources_survive_a_roundtrip() -> None:
    """A resource identity shared by the plan stays one object (identity is its equality)."""
    engine = wasmtime.Engine()
    copy = Component.deserialize(engine, Component(engine, RESOURCE_WAT).serialize())
    plan = copy._plan
    step = next(s for s in plan.steps if isinstance(s, p.DefineResource))
    make = plan.exports["make"]
    assert isinstance(make, p.ExportFunc) and make.type.result is not None
    assert make.type.result.resource is step.resource  # type: ignore[union-attr]
    store = wasmtime.Store(engine)
    instance = Linker(engine).instantiate(store, copy)
    make_f, get_f = instance.get_func(store, "make"), instance.get_func(store, "get")
    handle = make_f(store, 7)
    make_f.post_return(store)
    assert get_f(store, handle) == 7
    get_f.post_return(store)


def test_primitive_types_come_back_as_the_model_constants() -> None:
    from wasmcomponent.types import model

    plan = serial.loads_plan(serial.dumps_plan(_stripped(Component(wasmtime.Engine(), _built().wat))))
    add = plan.exports["add"]
    assert isinstance(add, p.ExportFunc)
    assert all(t is model.U32 for _, t in add.type.params)


@pytest.mark.parametrize("guest", ["probe", "command", "http"])
def test_componentize_py_guests_roundtrip(guest: str, tmp_path: Path) -> None:
    """A real guest's plan re-encodes identically, and the deserialized guest runs as the original."""
    from wasi_guests import Setup, build, call_export, call_run, engine, run_guest

    eng = engine()
    original = Component.from_file(eng, build(guest))
    data = bytes(original.serialize())
    copy = Component.deserialize(eng, data)
    encoded = serial.dumps_plan(_stripped(original))
    assert serial.dumps_plan(_stripped(copy)) == encoded
    assert sorted(copy.type.exports(eng)) == sorted(original.type.exports(eng))
    assert sorted(copy.type.imports(eng)) == sorted(original.type.imports(eng))
    if guest == "http":
        return  # served through wasi:http elsewhere; the plan comparison covers it
    runs: list[tuple[Setup, Any]]
    if guest == "probe":
        runs = [(Setup(), call_export("hello", "cache")), (Setup(argv=["probe", "a"]), call_export("env-and-args"))]
    else:
        runs = [(Setup(argv=["cmd", "ok"]), call_run)]
    for index, (setup, call) in enumerate(runs):
        before = run_guest("wasmcomponent", eng, original, tmp_path / f"a{index}", setup, call)
        after = run_guest("wasmcomponent", eng, copy, tmp_path / f"b{index}", setup, call)
        assert after == before
        assert before.stdout and before.result != ("trap", "ComponentTrap")


# ------------------------------------------------------------------ async plans

ASYNC_WAT = """
(component
  (type $s (stream u8))
  (import "host" (func $host async (param "a" u32) (result u32)))
  (core module $libc
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (table (export "tbl") 1 funcref))
  (core instance $libc (instantiate $libc))
  (core func $host-async (canon lower (func $host) async (memory (core memory $libc "mem"))))
  (core func $read (canon stream.read $s async
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core func $ret (canon task.return (result u32)))
  (core func $wait (canon waitable-set.wait (memory (core memory $libc "mem"))))
  (core func $cget (canon context.get i32 1))
  (core type $start (func (param i32)))
  (core func $spawn (canon thread.new-indirect $start (core table $libc "tbl")))
  (core module $m
    (import "" "host" (func (param i32 i32) (result i32)))
    (import "" "ret" (func (param i32)))
    (func (export "run") (param i32) (result i32) unreachable)
    (func (export "cb") (param i32 i32 i32) (result i32) unreachable))
  (core instance $i (instantiate $m (with "" (instance
    (export "host" (func $host-async)) (export "ret" (func $ret))))))
  (func (export "run") async (param "x" u32) (result u32)
    (canon lift (core func $i "run") async (callback (core func $i "cb"))))
)
"""


def test_async_plan_roundtrips() -> None:
    """Builtin trampolines and the callback option come back equal, and re-encode identically."""
    engine = wasmtime.Engine()
    original = Component(engine, ASYNC_WAT)
    copy = Component.deserialize(engine, original.serialize())
    assert copy._plan.uses_async
    assert copy._plan.trampolines == original._plan.trampolines
    assert copy._plan.options == original._plan.options
    builtins = {t.name: t for t in copy._plan.trampolines if isinstance(t, p.Builtin)}
    assert set(builtins) == {"stream.read", "task.return", "waitable-set.wait", "context.get", "thread.new-indirect"}
    assert builtins["thread.new-indirect"].core_type == (("i32",), ())
    assert builtins["context.get"].slot == 1
    callbacks = [o.callback for o in copy._plan.options if o.callback is not None]
    assert len(callbacks) == 1 and isinstance(callbacks[0], p.CoreExport) and callbacks[0].name == "cb"
    encoded = serial.dumps_plan(_stripped(original))
    assert serial.dumps_plan(serial.loads_plan(encoded)) == encoded
    assert serial.dumps_plan(_stripped(copy)) == encoded


def test_builtins_and_callbacks_roundtrip() -> None:
    """A hand-built plan with every Builtin field set comes back equal."""
    from wasmcomponent.types import model

    plan = p.Plan(
        trampolines=[
            p.Builtin("stream.read", 1, options=0, type=model.StreamType(model.U8)),
            p.Builtin("task.return", 0, result=model.ListType(model.STRING)),
            p.Builtin("waitable-set.wait", 0, options=0, cancellable=True),
            p.Builtin("subtask.cancel", 0, is_async=True),
            p.Builtin("context.set", 0, slot=1),
            p.Builtin("thread.new-indirect", 0, core_type=(("i32",), ()), table=p.CoreExport(0, "tbl")),
        ],
        options=[p.OptionsDef("utf8", p.CoreExport(0, "mem"), None, None, 0, True, p.TrampolineRef(0))],
    )
    back = serial.loads_plan(serial.dumps_plan(plan))
    assert back == plan
    assert back.trampolines[0].type.payload is model.U8  # type: ignore[union-attr]


def test_plans_of_the_previous_format_are_refused() -> None:
    """A plan encoded before Builtin existed is refused (the cache then recompiles it)."""
    from wasmcomponent.errors import DecodeError

    encoded = serial.dumps_plan(_stripped(Component(wasmtime.Engine(), _built().wat)))
    assert encoded[6] == serial.VERSION >= 2
    with pytest.raises(DecodeError, match="not a serialized plan of this version"):
        serial.loads_plan(encoded[:6] + bytes([serial.VERSION - 1]) + encoded[7:])


@pytest.mark.parametrize(
    "builtin",
    [
        p.Builtin("stream.read", 0, core_type=(("i32",),)),  # type: ignore[arg-type]
        p.Builtin("stream.read", 0, type=p.CoreExport(0, "x")),  # type: ignore[arg-type]
        p.Builtin("context.get", 0, slot=-1),
        p.Builtin("task.return", 0, options="0"),  # type: ignore[arg-type]
    ],
)
def test_builtin_fields_are_checked(builtin: p.Builtin) -> None:
    plan = p.Plan(trampolines=[builtin])
    with pytest.raises(Exception, match="corrupt serialized plan") as info:
        serial.loads_plan(serial.dumps_plan(plan))
    assert isinstance(info.value, wasmtime.WasmtimeError)
