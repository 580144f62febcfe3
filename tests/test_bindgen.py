"""``wasmcomponent bindgen``: typed bindings generated for components built at test time.

The all-types guest (tests/guests/bindgen_all, componentize-py) exports an
interface using every WIT type kind, with a resource, and imports an
interface the host implements.  The generated package is type-checked with
``mypy --strict`` (with a small script that uses it) and ``ruff``, imported,
and every export is called through it and compared with typed values.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import wasmtime

import wasi_guests
from wasmcomponent import Component, ComponentError, Linker
from wasmcomponent.bindgen import generate
from wasmcomponent.bindgen.names import snake
from wasmcomponent.bindgen.support import Err, Ok, Some

GUEST = "bindgen_all"
WORLD = "all-types"
NAMES_WIT = Path(__file__).resolve().parent / "guests" / "bindgen_names" / "wit"


def _build_all_types() -> Path:
    """The all-types guest, built once per source version (cached like tests/wasi_guests.py's)."""
    tool = wasi_guests._componentize_py()
    if tool is None:
        pytest.skip("componentize-py is not installed (pip install -e .[test])")
    source = wasi_guests.GUESTS / GUEST
    out = wasi_guests.cache_dir() / f"{GUEST}-{wasi_guests._source_key(source, tool)}.wasm"
    if not out.exists():
        work = wasi_guests.cache_dir() / f"build-{GUEST}-{os.getpid()}"  # built from a copy: the tree stays clean
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
        try:
            proc = subprocess.run(
                [*tool, "-d", "wit", "-w", WORLD, "componentize", "app", "-o", f"{out}.{os.getpid()}"],
                cwd=work, capture_output=True, text=True, timeout=900,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        os.replace(f"{out}.{os.getpid()}", out)
    return out


def _write(files: dict[str, str], root: Path) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


@pytest.fixture(scope="module")
def engine() -> wasmtime.Engine:
    return wasi_guests.engine()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, engine: wasmtime.Engine) -> Iterator[tuple[Path, Component]]:
    """The all-types package, generated as ``all_types`` into a directory on ``sys.path``."""
    component = Component.from_file(engine, _build_all_types())
    root = tmp_path_factory.mktemp("bindings")
    _write(generate(component, "all_types"), root)
    sys.path.insert(0, str(root))
    try:
        yield root, component
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "all_types" or m.startswith("all_types.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def pkg(generated: tuple[Path, Component]) -> ModuleType:
    return importlib.import_module("all_types")


class HostApi:
    """The imported `host-api`, implemented through its Protocol."""

    def __init__(self, pkg: ModuleType) -> None:
        self.h = importlib.import_module("all_types.imports.host_api")
        self.logged: list[tuple[Any, str]] = []

    def log(self, level: Any, msg: str) -> None:
        self.logged.append((level, msg))

    def lookup(self, key: str) -> Any:
        return self.h.Entry(key=key, value=len(key)) if key != "missing" else None

    def scale(self, values: list[int], by: int) -> list[int]:
        return [v * by for v in values]

    def parse(self, s: str) -> int:
        if not s.isdigit():
            raise Err(f"not a number: {s}")
        return int(s)


class Host:
    def __init__(self, pkg: ModuleType) -> None:
        self.host_api = HostApi(pkg)

    def shout(self, s: str) -> str:
        return s.upper() + "!"


@pytest.fixture(scope="module")
def world(pkg: ModuleType, generated: tuple[Path, Component], engine: wasmtime.Engine) -> Any:
    _, component = generated
    linker = Linker(engine)
    linker.add_wasip2()
    host = Host(pkg)
    pkg.Root.add_to_linker(linker, host)
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    w = pkg.Root.instantiate(store, linker, component)
    w.host = host
    return w


def test_layout_mirrors_componentize_py(generated: tuple[Path, Component]) -> None:
    root, _ = generated
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.py"))
    assert files == [
        "all_types/__init__.py",
        "all_types/exports/__init__.py",
        "all_types/exports/kinds.py",
        "all_types/imports/__init__.py",
        "all_types/imports/host_api.py",
    ]


def test_types_have_componentize_py_shapes(pkg: ModuleType) -> None:
    import dataclasses
    import enum

    kinds = importlib.import_module("all_types.exports.kinds")
    assert [f.name for f in dataclasses.fields(kinds.Person)] == ["full_name", "age", "tags", "home", "favourite", "perms"]
    assert [m.name for m in kinds.Color] == ["RED", "GREEN", "DARK_BLUE"] and issubclass(kinds.Color, enum.Enum)
    assert issubclass(kinds.Perms, enum.Flag) and [m.name for m in kinds.Perms] == ["READ", "WRITE", "EXEC_ALL"]
    assert kinds.Shape_Circle(value=1.5).value == 1.5 and dataclasses.fields(kinds.Shape_Empty) == ()
    assert set(kinds.Shape.__args__) == {kinds.Shape_Circle, kinds.Shape_Rect, kinds.Shape_Empty}
    assert pkg.Ok is Ok and pkg.Err is Err and pkg.Some is Some


def test_every_export(pkg: ModuleType, world: Any) -> None:
    k = importlib.import_module("all_types.exports.kinds")
    t = world.kinds
    assert t.echo_bool(True) is True
    ints = (255, -128, 65535, -32768, 2**32 - 1, -(2**31), 2**64 - 1, -(2**63))
    assert t.echo_ints(*ints) == ints
    assert t.echo_floats(1.5, -2.25) == (1.5, -2.25)
    assert t.echo_char("é") == "é" and t.echo_string("héllo") == "héllo"
    assert t.echo_bytes(b"\x00\xff") == b"\x00\xff" and t.echo_list([1, 2, 3]) == [1, 2, 3]
    assert t.echo_point(k.Point(x=1, y=-2)) == k.Point(x=1, y=-2)
    assert t.echo_points([k.Point(1, 2), k.Point(3, 4)]) == [k.Point(1, 2), k.Point(3, 4)]
    person = k.Person(full_name="Ada", age=36, tags=["a", "b"], home=k.Point(5, 6),
                      favourite=k.Color.DARK_BLUE, perms=k.Perms.READ | k.Perms.EXEC_ALL)
    assert t.echo_person(person) == person
    nobody = k.Person("", 0, [], None, k.Color.RED, k.Perms(0))
    assert t.echo_person(nobody) == nobody
    assert [t.echo_color(c) for c in k.Color] == list(k.Color)
    assert t.echo_perms(k.Perms.WRITE) == k.Perms.WRITE
    shapes = [k.Shape_Circle(2.5), k.Shape_Rect(k.Point(1, 1)), k.Shape_Empty()]
    assert [t.echo_shape(s) for s in shapes] == shapes and t.echo_shapes(shapes) == shapes
    assert t.echo_option("x") == "x" and t.echo_option(None) is None
    for nested in (None, Some(None), Some(7)):
        assert t.echo_nested_option(nested) == nested
    assert t.echo_result(Ok(5)) == 5
    with pytest.raises(Err) as err:
        t.echo_result(Err("bad"))
    assert err.value.value == "bad"
    results = [Ok(k.Point(1, 2)), Err(k.Color.GREEN)]
    assert t.echo_results(results) == results
    assert t.echo_tuple((1, "two", k.Point(3, 4))) == (1, "two", k.Point(3, 4))
    assert t.divide(7, 2) == 3
    with pytest.raises(Err) as err:
        t.divide(1, 0)
    assert err.value.value == "division by zero"
    assert t.check(True) is None
    with pytest.raises(Err):
        t.check(False)
    assert t.noop() is None
    assert world.greet("you") == "Hello, you!"


def test_resources(pkg: ModuleType, world: Any) -> None:
    k = importlib.import_module("all_types.exports.kinds")
    with k.Counter(world.kinds, 5) as a, k.Counter(world.kinds, 10) as b:
        a.add(2)
        assert a.get() == 7
        assert world.kinds.total(a, b) == 17
        merged = k.Counter.merge(world.kinds, a, b)
        assert isinstance(merged, k.Counter) and merged.get() == 17
        merged.close()
        merged.close()  # once only
    with pytest.raises(ComponentError, match="already de-allocated"):
        a.get()


def test_imports_through_the_protocol(pkg: ModuleType, world: Any) -> None:
    h = importlib.import_module("all_types.imports.host_api")
    assert world.run("42") == "42=2 [10, 20, 30] 42 42!"
    assert world.run("missing") == "none [10, 20, 30] err not a number: missing MISSING!"
    assert world.host.host_api.logged[-1] == (h.Level.HIGH, "run missing")


def test_wrong_values_raise_type_errors(pkg: ModuleType, world: Any) -> None:
    k = importlib.import_module("all_types.exports.kinds")
    with pytest.raises(TypeError, match="echo-color: parameter `c`: expected `Color`, found `str`"):
        world.kinds.echo_color("red")
    with pytest.raises(TypeError, match="echo-shape: parameter `s`: expected `Shape`, found `int`"):
        world.kinds.echo_shape(3)
    with pytest.raises(TypeError, match="echo-person: parameter `p`"):
        world.kinds.echo_person(k.Point(1, 2))
    with pytest.raises(ValueError, match="out of range"):
        world.kinds.echo_point(k.Point(2**40, 0))
    assert world.kinds.echo_point(k.Point(1, 2)) == k.Point(1, 2)  # still usable


def test_close(pkg: ModuleType, generated: tuple[Path, Component], engine: wasmtime.Engine) -> None:
    _, component = generated
    linker = Linker(engine)
    linker.add_wasip2()
    pkg.Root.add_to_linker(linker, Host(pkg))
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    with pkg.Root(store, linker.instantiate(store, component)) as w:
        assert w.greet("a") == "Hello, a!"
    with pytest.raises(ValueError, match="Root was closed"):
        w.greet("b")
    with pytest.raises(ValueError, match="Root was closed"):
        w.kinds.noop()


USER_SCRIPT = """
import wasmtime
from wasmcomponent import Component, Linker

from all_types import Err, Ok, Root
from all_types.exports.kinds import Color, Counter, Perms, Person, Point, Shape_Circle
from all_types.imports.host_api import Entry, Level


class HostApi:
    def log(self, level: Level, msg: str) -> None:
        print(level.name, msg)

    def lookup(self, key: str) -> Entry | None:
        return Entry(key, 1)

    def scale(self, values: list[int], by: int) -> list[int]:
        return [v * by for v in values]

    def parse(self, s: str) -> int:
        raise Err("no")


class Host:
    host_api = HostApi()

    def shout(self, s: str) -> str:
        return s


def main(path: str) -> None:
    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.add_wasip2()
    Root.add_to_linker(linker, Host())
    world = Root.instantiate(wasmtime.Store(engine), linker, Component.from_file(engine, path))
    p: Point = world.kinds.echo_point(Point(x=1, y=2))
    person: Person = world.kinds.echo_person(Person("a", 1, [], p, Color.RED, world.kinds.echo_perms(Perms.READ)))
    with Counter(world.kinds, 3) as c:
        n: int = c.get() + world.kinds.total(c, c)
    r = world.kinds.echo_results([Ok(p), Err(Color.GREEN)])
    s = world.kinds.echo_shape(Shape_Circle(1.0))
    print(person, n, r, s, world.run("x"))
"""


def test_generated_code_type_checks(generated: tuple[Path, Component]) -> None:
    root, _ = generated
    (root / "user_script.py").write_text(USER_SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "all_types", "user_script.py"],
        cwd=root, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = (root / "bad_script.py")
    bad.write_text("from all_types.exports.kinds import Point\nPoint(x='1', y=2)\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "bad_script.py"], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and 'incompatible type "str"' in proc.stdout, proc.stdout


def test_generated_code_passes_ruff(generated: tuple[Path, Component]) -> None:
    root, _ = generated
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e .[dev])")
    proc = subprocess.run([ruff, "check", "--isolated", "all_types"], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_async_guest_bindings(tmp_path: Path, engine: wasmtime.Engine) -> None:
    """`async func` exports become `async def`; stream and future results are typed readers."""
    import asyncio

    component = Component.from_file(engine, str(wasi_guests.build("async_app")))
    files = generate(component, "async_app_bindings")
    api = files["async_app_bindings/exports/api.py"]
    assert "async def count(self, n: int) -> _wc.StreamReader[int]:" in api
    assert "async def greet_later(self, name: str) -> _wc.FutureReader[str]:" in api
    assert "def describe(self, values: list[int]) -> str:" in api
    _write(files, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        bindings = importlib.import_module("async_app_bindings")

        class Host:
            def host_add(self, a: int, b: int) -> int:
                return (a + b) % 2**32

        linker = Linker(engine)
        linker.add_wasip2()
        bindings.Root.add_to_linker(linker, Host())
        store = wasmtime.Store(engine)
        store.set_wasi(wasmtime.WasiConfig())
        world = bindings.Root.instantiate(store, linker, component)
        assert world.api.describe([1, 5, 3]) == "3:9:5"

        async def use() -> tuple[int, Any]:
            total = await world.api.add_twice(3, 4)
            reader = await world.api.count(3)
            return total, [x async for x in reader]

        assert asyncio.run(use()) == (14, [0, 1, 2])
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("async_app_bindings")]:
            del sys.modules[name]


def _names_component(tmp_path: Path) -> bytes:
    tool = shutil.which("wasm-tools")
    if tool is None:
        pytest.skip("wasm-tools is not installed")
    core = tmp_path / "core.wasm"
    subprocess.run([tool, "component", "embed", "--dummy", str(NAMES_WIT), "-w", "%world", "-o", str(core)], check=True)
    return subprocess.run([tool, "component", "new", str(core)], check=True, capture_output=True).stdout


def test_names_are_escaped(tmp_path: Path, engine: wasmtime.Engine) -> None:
    """Keywords, builtins and the bindings' own names become other valid identifiers; the package type-checks."""
    component = Component(engine, _names_component(tmp_path))
    files = generate(component, "names")
    _write(files, tmp_path)
    source = files["names/exports/type_.py"]
    for expected in ("class Class:", "    self_: int", "    list_: list[int]", "class None_(_enum.Enum):",
                     "    NONE = 2", "def import_(self, from_: Class, self_: List, cls_: None_, store: Bool) -> Class:",
                     "    def close_(self) -> None:", "    def self(self, iface_: int) -> int:"):
        assert expected in source, expected
    world = files["names/__init__.py"]
    assert "self.type__ = " in world and "def close_(self) -> None:" in world and "def instantiate_(" in world
    for text in files.values():
        compile(text, "generated", "exec")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "names"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["type", "x\"); import os #", "9lives", "__init__", "", "a-b-C"])
def test_hostile_names_become_identifiers(name: str) -> None:
    ident = snake(name)
    assert ident.isidentifier() and not __import__("keyword").iskeyword(ident)


def test_command_line(tmp_path: Path) -> None:
    wat = tmp_path / "app.wat"
    wat.write_text("""(component
      (core module $m (func (export "f") (param i32) (result i32) local.get 0))
      (core instance $i (instantiate $m))
      (func (export "echo") (param "x" u32) (result u32) (canon lift (core func $i "f"))))""")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "wasmcomponent.bindgen", str(wat), "--out", str(out), "--name", "app"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "def echo(self, x: int) -> int:" in (out / "app" / "__init__.py").read_text()
    assert "wrote package `app`" in proc.stdout
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\x01")
    proc = subprocess.run([sys.executable, "-m", "wasmcomponent.bindgen", str(bad), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def _with_package_docs(wat: str, payload: bytes) -> bytes:
    """``wat`` as a binary with ``payload`` as its package-docs section (as tests/test_wit.py builds it)."""
    data = bytes(wasmtime.wat2wasm(wat))
    name = b"package-docs"
    body = bytes([len(name)]) + name + payload
    size, out = len(body), bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            break
    return data + b"\x00" + bytes(out) + body


def test_docs_cannot_inject_code(engine: wasmtime.Engine) -> None:
    import ast
    import json

    evil = '\'\'\' """ \\\n"); import os; os.system("echo pwned") #\n\x00 \u2028'
    doc = b"\x01" + json.dumps({"worlds": {"root": {"docs": evil, "funcs": {"f": {"docs": evil}}}}}).encode()
    component = Component(engine, _with_package_docs('(component (import "f" (func)))', doc))
    source = generate(component, "evil")["evil/__init__.py"]
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert "os" not in imported and not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"
                                            for n in ast.walk(tree))
    protocol = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RootImports")
    method = next(n for n in protocol.body if isinstance(n, ast.FunctionDef) and n.name == "f")
    assert ast.get_docstring(method, clean=False) == evil + "\n\nImplements `f`."
    world = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Root")
    assert (ast.get_docstring(world, clean=False) or "").startswith(evil)


def test_hostile_type_shapes_generate_linear_code(engine: wasmtime.Engine) -> None:
    """Shared subtrees (a tuple doubling 17 times: 131,072 leaves) and the deepest nesting allowed."""
    doubling = "(type $t0 (option (option u32)))\n" + "\n".join(
        f"(type $t{i} (tuple $t{i - 1} $t{i - 1}))" for i in range(1, 17))
    deep = "\n".join(f"(type $l{i} (list {'u32' if i == 0 else f'$l{i - 1}'}))" for i in range(99))
    component = Component(engine, f"""(component {doubling} {deep}
      (import "f" (func (param "x" $t16) (result $t16)))
      (import "g" (func (param "x" $l98) (result $l98))))""")
    source = generate(component, "hostile")["hostile/__init__.py"]
    assert len(source) < 50_000
    compile(source, "hostile", "exec")


def test_imported_resources_are_protocols(engine: wasmtime.Engine) -> None:
    component = Component(engine, """(component
      (import "a:b/c" (instance
        (export "r" (type $r (sub resource)))
        (export "[constructor]r" (func (param "n" u32) (result (own $r))))
        (export "[method]r.get" (func (param "self" (borrow $r)) (result u32)))
        (export "[static]r.make" (func (result (own $r)))))))""")
    source = generate(component, "handles")["handles/imports/c.py"]
    assert "class R(_typing.Protocol):" in source and "    def r(self) -> type[R]:" in source
    assert "    def __init__(self, n: int) -> None:" in source and "    def get(self) -> int:" in source
    assert "    @classmethod\n    def make(cls) -> _typing.Self:" in source


def test_toolchain_guests_type_check(tmp_path: Path, engine: wasmtime.Engine) -> None:
    """Guests other tests build: a wasi:http proxy (WASI resources in an export), world-level `use`, async."""
    names = []
    for guest in ("http", "worlduse", "async_app"):
        component = Component.from_file(engine, str(wasi_guests.build(guest)))
        files = generate(component, f"{guest}_bindings")
        _write(files, tmp_path)
        names.append(f"{guest}_bindings")
    root = (tmp_path / "worlduse_bindings" / "__init__.py").read_text()
    assert "def bounce(self, p: _i_host_res.Point, s: _i_host_res.Shape) -> tuple[_i_host_res.Point, _i_host_res.Shape]:" in root
    proxy = (tmp_path / "http_bindings" / "exports" / "incoming_handler.py").read_text()
    assert "def handle(self, request: _typing.Any, response_out: _typing.Any) -> None:" in proxy
    (tmp_path / "host_res_user.py").write_text(HOST_RES_USER)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *names, "host_res_user.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ruff = shutil.which("ruff")
    if ruff is not None:
        proc = subprocess.run([ruff, "check", "--isolated", *names], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


HOST_RES_USER = """
from worlduse_bindings import Root, RootImports
from worlduse_bindings.imports.host_res import Blob, HostRes, Point, Shape


class MyBlob:
    def __init__(self, init: bytes) -> None:
        self.data = init

    def read(self) -> bytes:
        return self.data

    def append(self, more: bytes) -> None:
        self.data += more


class MyHostRes:
    blob = MyBlob

    def make_blob(self, text: str) -> Blob:
        return MyBlob(text.encode())

    def blob_len(self, b: Blob) -> int:
        return len(b.read())

    def merge(self, a: Blob, b: Blob) -> Blob:
        return MyBlob(a.read() + b.read())

    def translate(self, p: Point, dx: int, dy: int) -> Point:
        return Point(p.x + dx, p.y + dy)

    def scale(self, s: Shape, k: float) -> Shape:
        return s


class Host:
    host_res: HostRes = MyHostRes()

    def log_shape(self, s: Shape, at: Point) -> str:
        return type(s).__name__


host: RootImports = Host()
print(Root.add_to_linker)
"""


def test_host_resources_through_the_protocol(tmp_path: Path, engine: wasmtime.Engine) -> None:
    """The worlduse guest calls a resource the host implements (a class), and records and variants."""
    component = Component.from_file(engine, str(wasi_guests.build("worlduse")))
    _write(generate(component, "worlduse_run"), tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = importlib.import_module("worlduse_run")
        h = importlib.import_module("worlduse_run.imports.host_res")

        class Blob:
            def __init__(self, init: bytes) -> None:
                self.data = init

            def read(self) -> bytes:
                return self.data

            def append(self, more: bytes) -> None:
                self.data += more

        class HostRes:
            blob = Blob

            def make_blob(self, text: str) -> Blob:
                return Blob(text.encode())

            def blob_len(self, b: Blob) -> int:
                return len(b.data)

            def merge(self, a: Blob, b: Blob) -> Blob:
                return Blob(a.data + b.data)

            def translate(self, p: Any, dx: int, dy: int) -> Any:
                return h.Point(p.x + dx, p.y + dy)

            def scale(self, s: Any, k: float) -> Any:
                if isinstance(s, h.Shape_Circle):
                    return h.Shape_Circle(s.value * k)
                if isinstance(s, h.Shape_Rect):
                    return h.Shape_Rect(h.Point(int(s.value.x * k), int(s.value.y * k)))
                return s

        class Host:
            host_res = HostRes()

            def log_shape(self, s: Any, at: Any) -> str:
                return f"{type(s).__name__}@{at.x},{at.y}"

        linker = Linker(engine)
        linker.add_wasip2()
        pkg.Root.add_to_linker(linker, Host())
        store = wasmtime.Store(engine)
        store.set_wasi(wasmtime.WasiConfig())
        world = pkg.Root.instantiate(store, linker, component)
        assert world.run(5) == ("translate=(8,-1); scale=circle(3.0); scale=rect(16,-2); scale=empty; "
                                "log=Shape_Rect@5,5; lens=6,5; b=b'+xyz!'; merged=b'seed-5+xyz!'")
        assert len(h._table_Blob) == 0  # every blob the guest held was dropped, or taken by `merge`
        moved, shape = world.bounce(h.Point(1, 2), h.Shape_Circle(4.0))
        assert (moved, shape) == (h.Point(2, 3), h.Shape_Circle(2.0))
        wrapped = world.wrap("hi")  # made by the host for the guest, handed back: the same object
        assert isinstance(wrapped, Blob) and wrapped.data == b"hi#"
        assert world.measure(wrapped) == 6 and world.measure(Blob(b"abc")) == 6  # lent for the call
        assert world.unwrap(wrapped) == b"hi#"  # moved to the guest, which drops it
        assert len(h._table_Blob) == 0
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("worlduse_run")]:
            del sys.modules[name]


def test_world_level_types(tmp_path: Path, engine: wasmtime.Engine) -> None:
    """Types a component defines at its root (hand-written, as tests/components.py builds them) go in PKG/types.py."""
    import components as C

    point = C.record(x=C.S32, y=C.S32)
    color = C.EnumT(("red", "green", "dark-blue"))
    shape = C.variant(("circle", C.F64), ("rect", point), ("empty", None))
    person = C.record(**{"full-name": C.STRING, "home": C.OptionT(point), "favourite": color})
    built = C.build_component([C.identity_export("echo-point", [("p", point)]),
                               C.identity_export("echo-shapes", [("l", C.ListT(shape))]),
                               C.identity_export("echo-person", [("p", person)])])
    component = Component(engine, built.wat)
    _write(generate(component, "rooted"), tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        rooted = importlib.import_module("rooted")
        world = rooted.Root.instantiate(wasmtime.Store(engine), Linker(engine), component)
        assert world.echo_point(rooted.T0(1, -2)) == rooted.T0(1, -2)
        shapes = [rooted.T1_Circle(0.5), rooted.T1_Rect(rooted.T0(3, 4)), rooted.T1_Empty()]  # types in order of use
        assert world.echo_shapes(shapes) == shapes
        someone = rooted.T3(full_name="Ada", home=rooted.T0(5, 6), favourite=rooted.T2.DARK_BLUE)
        assert world.echo_person(someone) == someone
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "rooted" or m.startswith("rooted.")]:
            del sys.modules[name]
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "rooted"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_world_types_do_not_shadow_the_package_names(engine: wasmtime.Engine) -> None:
    component = Component(engine, """(component
      (type $r' (record (field "a" u32)))
      (export $r "root" (type $r'))
      (type $e' (enum "x"))
      (export $e "result" (type $e'))
      (core module $m (func (export "f") (param i32 i32)))
      (core instance $i (instantiate $m))
      (func (export "f") (param "x" $r) (param "y" $e) (canon lift (core func $i "f"))))""")
    files = generate(component, "clash")
    assert "class Root_:" in files["clash/types.py"] and "class Result_(_enum.Enum):" in files["clash/types.py"]
    assert "def f(self, x: _w_types.Root_, y: _w_types.Result_) -> None:" in files["clash/__init__.py"]
    assert "class Root:" in files["clash/__init__.py"]


def test_generate_takes_component_text() -> None:
    files = generate('(component (import "log" (func (param "msg" string))))', "text")
    assert "    def log(self, msg: str) -> None:" in files["text/__init__.py"]
