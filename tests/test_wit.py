"""``wasmcomponent.wit``: the WIT model, and ``print_wit`` against ``wasm-tools component wit``.

Golden tests: every component here is built at test time, and the expected
text is what ``wasm-tools component wit`` prints for it (wasm-tools is a test
dependency); ``print_wit`` must give the same bytes.  The components:

* WIT written below, made into components with ``wasm-tools component embed
  --dummy`` + ``component new`` (every type kind, resources, ``use`` across
  interfaces and packages, inline interfaces, keywords), and into WIT
  packages with ``wasm-tools component wit --wasm`` (docs and
  ``@since``/``@unstable``/``@deprecated`` gates, carried by the
  ``package-docs`` section);
* componentize-py guests (``tests/guests``): ``worlduse`` (resources, WASI
  imports) and ``async_app`` (``async func``, ``stream``, ``future``);
* a componentize-js guest (``tests/guests/wit_js``), when npm can install
  componentize-js 0.23 into the test cache;
* a sample of the conformance suites' components.

Then the model API, and hostile input: only documented errors, bounded output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime

import wasi_guests
from corpus import CONFORMANCE_DIR, convert_wast, module_commands, wast_files
from wasmcomponent import Component
from wasmcomponent._engine.core import wat_to_wasm
from wasmcomponent.binary.decoder import COMPONENT_PREAMBLE
from wasmcomponent.errors import ComponentError, DecodeError, UnsupportedError, ValidationError
from wasmcomponent.wit import decode, print_resolve, print_wit
from wasmcomponent.wit import model as w
from wasmcomponent.wit.printer import print_world_items

WASM_TOOLS = shutil.which("wasm-tools")
needs_wasm_tools = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed (pip install -e .[test])")

# ---------------------------------------------------------------- WIT sources

KINDS_WIT = """\
package wasmcomponent-test:kinds@0.1.0;

interface types {
  type id = u64;
  type ids = list<id>;
  record point { x: s32, y: s32 }
  variant shape { circle(f64), rect(tuple<point, point>), empty }
  enum color { red, green, blue }
  flags perms { read, write, exec }
  type quad = list<u8, 4>;
  type table = map<string, list<point>>;
  type maybe = option<option<point>>;
  type outcome = result<point, string>;
  type bare = result;
  type half = result<_, color>;
  type only-ok = result<u32>;
  type fut = future<u32>;
  type plain-fut = future;
  type strm = stream<point>;
  type plain-strm = stream;
  resource file {
    constructor(path: string);
    read: func(n: u32) -> result<list<u8>, error-context>;
    write: async func(data: stream<u8>) -> future<u64>;
    open: static func(path: string) -> result<file, string>;
    copy: static async func(src: borrow<file>) -> file;
  }
  resource fallible {
    constructor(seed: u32) -> result<fallible, string>;
  }
  resource empty;
  type file-handle = own<file>;
  type file-ref = borrow<file>;
  type alias-of-point = point;
  %type: func(%record: point, %enum: color) -> shape;
  %async: async func(%stream: stream<u8>) -> u32;
  everything: func(a: bool, b: s8, c: u16, d: s64, e: f32, f: f64, g: char, h: string,
                   i: error-context, j: perms, k: u8, l: s16, m: u32, n: s32) -> tuple<bool, char>;
}

interface users {
  use types.{point, shape as figure, file};
  record placed { at: point, what: figure }
  place: func(p: placed, f: borrow<file>) -> list<placed>;
}

world kinds {
  use types.{color};
  import users;
  import types;
  import log: func(c: color, msg: string);
  import scratch: interface {
    use types.{point};
    nudge: func(p: point) -> point;
  }
  export types;
  export users;
  export run: async func(input: stream<u8>) -> result<string>;
  export inline-exp: interface {
    ping: func() -> string;
  }
}
"""

BASE_WIT = """\
package acme:base@1.0.0;

interface ids {
  type id = u64;
  resource handle;
}
"""

MID_WIT = """\
package acme:mid@2.0.0;

interface records {
  use acme:base/ids@1.0.0.{id, handle};
  record entry { key: id, owner: option<u32> }
  get: func(h: borrow<handle>) -> entry;
}
"""

APP_WIT = """\
/// The top package.
package acme:app@0.5.0;

/// Gated interface.
@since(version = 0.3.0)
interface api {
  use acme:mid/records@2.0.0.{entry};
  use acme:base/ids@1.0.0.{id as key};
  /// A status.
  ///
  /// Second paragraph.
  @since(version = 0.3.0)
  @deprecated(version = 0.4.0)
  enum status {
    /// It is fine.
    ok,
    bad,
  }
  /// A record with documented fields.
  record row {
    /// The key.
    key: key,
    value: string,
  }
  @unstable(feature = shiny)
  shiny: func() -> u8;
  /// Look up.
  lookup: func(k: key) -> option<entry>;
}

/// The app world.
@unstable(feature = shiny)
world app {
  /// Base ids.
  @since(version = 0.1.0)
  import acme:base/ids@1.0.0;
  import api;
  /// Some inline.
  import inline: interface {
    /// inline func
    f: func();
  }
  /// A root import.
  import tick: func(n: u32);
  /// Gated root function.
  @since(version = 0.2.0)
  export go: func() -> u32;
  export api;
}
"""

# A world whose root imports a resource and its functions, and uses keywords as names.
ROOT_WIT = """\
package wasmcomponent-test:root;

world root-things {
  resource %stream {
    constructor();
    next: func() -> option<u8>;
    %static: static func() -> %stream;
  }
  record %record { %list: list<%stream> }
  import make: func(r: %record) -> %stream;
  export %map: func(m: map<u32, string>) -> %record;
}
"""

# One interface imported under two labels (`implements`, the cm-implements gate).
IMPLEMENTS_WIT = """\
package a:b;

interface store {
  get: func(k: string) -> option<string>;
}

world w {
  import primary: store;
  import backup: store;
  export store;
}
"""

WIT_SOURCES: dict[str, dict[str, str]] = {
    "kinds": {"kinds.wit": KINDS_WIT},
    "packages": {"app.wit": APP_WIT, "deps/base/base.wit": BASE_WIT, "deps/mid/mid.wit": MID_WIT},
    "root": {"root.wit": ROOT_WIT},
    "implements": {"store.wit": IMPLEMENTS_WIT},
}


def wasm_tools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WASM_TOOLS), *args], capture_output=True, text=True, timeout=120, check=False)


def expected_wit(path: Path) -> str:
    """The golden text: what ``wasm-tools component wit`` prints for ``path``."""
    proc = wasm_tools("component", "wit", str(path))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def wit_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each WIT source as a component (``<name>.component``) and as a WIT package (``<name>.package``)."""
    if WASM_TOOLS is None:
        pytest.skip("wasm-tools is not installed (pip install -e .[test])")
    root = tmp_path_factory.mktemp("wit")
    built: dict[str, Path] = {}
    for name, files in WIT_SOURCES.items():
        source = root / name
        for relative, text in files.items():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            (source / relative).write_text(text)
        core, component, package = root / f"{name}.core.wasm", root / f"{name}.wasm", root / f"{name}.pkg.wasm"
        for args in (
            ("component", "embed", "--all-features", "--dummy", str(source), "-o", str(core)),
            ("component", "new", str(core), "-o", str(component)),
            ("component", "wit", "--all-features", "--wasm", str(source), "-o", str(package)),
        ):
            proc = wasm_tools(*args)
            assert proc.returncode == 0, f"wasm-tools {' '.join(args)}: {proc.stderr}"
        built[f"{name}.component"] = component
        built[f"{name}.package"] = package
    return built


@needs_wasm_tools
@pytest.mark.parametrize("name", [f"{n}.{k}" for n in WIT_SOURCES for k in ("component", "package")])
def test_same_as_wasm_tools_for_wit_written_here(wit_builds: dict[str, Path], name: str) -> None:
    path = wit_builds[name]
    assert print_wit(path.read_bytes()) == expected_wit(path)


@needs_wasm_tools
def test_docs_and_gates_are_printed(wit_builds: dict[str, Path]) -> None:
    text = print_wit(wit_builds["packages.package"].read_bytes())
    assert "/// The top package.\npackage acme:app@0.5.0;" in text
    assert "  /// A status.\n  ///\n  /// Second paragraph.\n  @since(version = 0.3.0)\n  @deprecated(version = 0.4.0)\n" in text
    assert "@unstable(feature = shiny)\nworld app {" in text
    assert "  /// Base ids.\n  @since(version = 0.1.0)\n  import acme:base/ids@1.0.0;" in text
    # ``docs=False`` drops the comments, not the gates.
    bare = print_wit(wit_builds["packages.package"].read_bytes(), docs=False)
    assert "///" not in bare and "@since(version = 0.1.0)" in bare


# ---------------------------------------------------------------- toolchain guests


@needs_wasm_tools
@pytest.mark.parametrize("guest", ["worlduse", "async_app"])
def test_same_as_wasm_tools_for_componentize_py_guests(guest: str) -> None:
    path = wasi_guests.build(guest)
    text = print_wit(path.read_bytes())
    assert text == expected_wit(path)
    assert "import wasi:cli/environment@" in text  # WASI imports are part of it


@needs_wasm_tools
def test_resources_of_a_componentize_py_guest() -> None:
    """worlduse imports a resource and re-exports it at world level with `use`."""
    path = wasi_guests.build("worlduse")
    resolve = decode(path.read_bytes())
    host = resolve.world.imports["wasmcomponent-test:worlduse/host-res"]
    assert isinstance(host, w.InterfaceItem)
    blob = host.interface.types["blob"]
    assert isinstance(blob.kind, w.Resource)
    members = [(f.kind, f.item_name) for f in host.interface.resource_functions(blob)]
    assert members == [("constructor", "blob"), ("method", "read"), ("method", "append")]
    world_blob = resolve.world.imports["blob"]
    assert isinstance(world_blob, w.TypeItem) and world_blob.typedef.used_from() is host.interface


@needs_wasm_tools
def test_async_functions_and_streams_in_the_model() -> None:
    resolve = decode(wasi_guests.build("async_app").read_bytes())
    api = resolve.world.exports["wasmcomponent-test:async-app/api"]
    assert isinstance(api, w.InterfaceItem)
    count = api.interface.functions["count"]
    assert count.is_async and isinstance(count.result, w.TypeDef)
    assert isinstance(count.result.kind, w.Stream) and count.result.kind.type == w.U32


COMPONENTIZE_JS = "0.23"


def _componentize_js() -> Path:
    """componentize-js, installed by npm into the test cache on first use (skips when impossible)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm/node are not installed (componentize-js needs them)")
    home = wasi_guests.cache_dir() / f"componentize-js-{COMPONENTIZE_JS}"
    tool = home / "node_modules" / ".bin" / "componentize-js"
    if tool.exists():
        return tool
    home.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
             f"@bytecodealliance/componentize-js@{COMPONENTIZE_JS}"],
            cwd=home, capture_output=True, text=True, timeout=600, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"npm could not install componentize-js: {err}")
    if proc.returncode != 0 or not tool.exists():
        pytest.skip(f"npm could not install componentize-js: {proc.stderr.strip()[-300:]}")
    return tool


def _build_js_guest() -> Path:
    source = wasi_guests.GUESTS / "wit_js"
    digest = hashlib.sha256(COMPONENTIZE_JS.encode())
    for path in sorted(source.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(source)).encode() + path.read_bytes())
    out = wasi_guests.cache_dir() / f"wit_js-{digest.hexdigest()[:16]}.wasm"
    if out.exists():
        return out
    tool = _componentize_js()
    tmp = Path(f"{out}.{os.getpid()}.tmp")
    try:
        proc = subprocess.run(
            [str(tool), str(source / "app.js"), "--wit", str(source / "wit"), "-n", "jsguest", "-o", str(tmp)],
            capture_output=True, text=True, timeout=900, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"componentize-js could not build the guest: {err}")
    if proc.returncode != 0:
        pytest.skip(f"componentize-js could not build the guest: {(proc.stderr or proc.stdout).strip()[-300:]}")
    os.replace(tmp, out)
    return out


@needs_wasm_tools
def test_same_as_wasm_tools_for_a_componentize_js_guest() -> None:
    path = _build_js_guest()
    text = print_wit(path.read_bytes())
    assert text == expected_wit(path)
    assert "export wasmcomponent-test:jsguest/counters;" in text
    assert "    resource counter {\n      constructor(start: u32);\n" in text


# ---------------------------------------------------------------- conformance suites


@pytest.fixture(scope="module")
def suite_components(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The components of every third script of the suites (a sample: converting them all takes a while)."""
    if WASM_TOOLS is None or not CONFORMANCE_DIR.is_dir():
        pytest.skip("needs wasm-tools and the conformance suites")
    out = tmp_path_factory.mktemp("wit-corpus")
    found: set[bytes] = set()
    for index, wast in enumerate(wast_files()[::3]):
        where = out / str(index)
        spec = convert_wast(wast, where)
        if spec is None:
            continue
        for command in module_commands(spec, ("module", "module_definition")):
            data = (where / command["filename"]).read_bytes()
            if data.startswith(COMPONENT_PREAMBLE):
                found.add(data)
    return sorted(found, key=lambda b: (len(b), b))


@needs_wasm_tools
def test_same_as_wasm_tools_for_the_suites_components(suite_components: list[bytes], tmp_path: Path) -> None:
    """Where wasm-tools prints WIT, ours is identical; elsewhere ours prints or raises a documented error.

    (wasm-tools also fails on a few components that our validator accepts, and panics on one.)
    """
    same = 0
    for index, data in enumerate(suite_components[::2]):  # every other one: wasm-tools runs once per component
        path = tmp_path / f"c{index}.wasm"
        path.write_bytes(data)
        proc = wasm_tools("component", "wit", str(path))
        if proc.returncode != 0:
            try:
                print_wit(data)
            except ComponentError:
                pass
            continue
        assert print_wit(data) == proc.stdout, f"component {index} ({path})"
        same += 1
    assert same >= 50, f"only {same} of {len(suite_components) // 2} components printed"


# ---------------------------------------------------------------- the model and the API


POINT_AND_SHAPES = """(component
  (type $point (record (field "x" u32) (field "y" u32)))
  (import "my:geo/types" (instance $t
    (export "point" (type (eq $point)))
    (export "blob" (type (sub resource)))
  ))
  (alias export $t "point" (type $p))
  (alias export $t "blob" (type $blob))
  (type $own (own $blob))
  (import "my:geo/shapes" (instance
    (export "pt" (type $pt (eq $p)))
    (export "b" (type (eq $blob)))
    (type $l (list $pt))
    (export "centroid" (func (param "pts" $l) (result $pt)))
  ))
)"""


def test_model_links_uses_to_their_definitions() -> None:
    resolve = decode(POINT_AND_SHAPES)
    assert resolve.is_component and resolve.main.name == w.PackageName("root", "component")
    types = resolve.world.imports["my:geo/types"]
    shapes = resolve.world.imports["my:geo/shapes"]
    assert isinstance(types, w.InterfaceItem) and isinstance(shapes, w.InterfaceItem)
    point = types.interface.types["point"]
    pt = shapes.interface.types["pt"]
    assert pt.used_from() is types.interface and pt.resolved() is point
    centroid = shapes.interface.functions["centroid"]
    assert centroid.result is pt
    param = centroid.params[0].type
    assert isinstance(param, w.TypeDef) and param.name is None and isinstance(param.kind, w.List)
    assert param.kind.type is pt
    assert [p.name for p in resolve.foreign_packages()] == [w.PackageName("my", "geo")]
    assert shapes.interface.qualified_name == "my:geo/shapes"
    text = print_wit(POINT_AND_SHAPES)
    assert "  interface shapes {\n    use types.{point as pt, blob as b};\n" in text


@needs_wasm_tools
def test_same_as_wasm_tools_for_component_text(tmp_path: Path) -> None:
    path = tmp_path / "shapes.wasm"
    path.write_bytes(bytes(wat_to_wasm(POINT_AND_SHAPES)))
    assert print_wit(POINT_AND_SHAPES) == expected_wit(path)


def test_print_wit_takes_a_component(tmp_path: Path) -> None:
    engine = wasmtime.Engine()
    component = Component(engine, POINT_AND_SHAPES)
    assert print_wit(component) == print_wit(POINT_AND_SHAPES)
    restored = Component.deserialize(engine, component.serialize())
    with pytest.raises(UnsupportedError, match="deserialized"):
        print_wit(restored)


def test_a_wit_package_has_no_component_world(wit_builds: dict[str, Path]) -> None:
    resolve = decode(wit_builds["packages.package"].read_bytes())
    assert not resolve.is_component and resolve.main.name == w.PackageName("acme", "app", "0.5.0")
    assert list(resolve.main.worlds) == ["app"] and list(resolve.main.interfaces) == ["api"]
    with pytest.raises(UnsupportedError, match="WIT package"):
        _ = resolve.world
    api = resolve.main.interfaces["api"]
    status = api.types["status"]
    assert status.stability == w.Stability(since="0.3.0", deprecated="0.4.0")
    assert isinstance(status.kind, w.Enum) and status.kind.cases[0].docs == "It is fine."


def test_world_items_listing_for_inspect(wit_builds: dict[str, Path]) -> None:
    """`inspect`'s listing: root resources with their functions in their block, then the functions."""
    world = decode(wit_builds["root.component"].read_bytes()).world
    text = print_world_items(world)
    assert text.startswith("resource %stream {\n  constructor();\n  next: func() -> option<u8>;\n")
    assert text.endswith("import make: func(r: %record) -> %stream;\nexport %map: func(m: map<u32, string>) -> %record;\n")
    assert print_world_items(world, imports=False) == "export %map: func(m: map<u32, string>) -> %record;\n"
    kinds = decode(wit_builds["kinds.component"].read_bytes()).world
    listing = print_world_items(kinds, exports=False)
    assert "import wasmcomponent-test:kinds/users@0.1.0: interface {\n" \
           "  use wasmcomponent-test:kinds/types@0.1.0.{point, shape as figure, file};\n" in listing
    assert "export" not in listing


def test_unprintable_components_raise_unsupported_error() -> None:
    # WIT has no place for a type exported by the component itself.
    with pytest.raises(UnsupportedError, match="not a function or instance"):
        print_wit('(component (type $t (record (field "a" u8))) (export "t" (type $t)))')
    # ... nor for an instance nested in an interface.
    with pytest.raises(UnsupportedError, match="is not a type"):
        print_wit('(component (import "a:b/c" (instance (export "d" (instance)))))')


# ---------------------------------------------------------------- hostile input


def _docs_component(payload: bytes, wat: str = '(component (import "f" (func)))') -> bytes:
    """A small component carrying ``payload`` as its package-docs section."""
    data = bytes(wat_to_wasm(wat))
    name = b"package-docs"
    body = bytes([len(name)]) + name + payload
    return data + b"\x00" + _leb(len(body)) + body


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_package_docs_reach_the_component_world() -> None:
    doc = b'\x01{"worlds":{"root":{"docs":"The world.","funcs":{"f":{"docs":"Call it.",' \
          b'"stability":{"unstable":{"feature":"x"}}}}}}}'
    text = print_wit(_docs_component(doc))
    assert text == ("package root:component;\n\n/// The world.\nworld root {\n"
                    "  /// Call it.\n  @unstable(feature = x)\n  import f: func();\n}\n")


@needs_wasm_tools
def test_package_docs_of_a_component_as_wasm_tools_prints_them(tmp_path: Path) -> None:
    """Line breaks, gates and inline interfaces as wasm-tools handles them (Rust's `lines()`)."""
    wat = """(component
      (type $e (enum "a" "b"))
      (import "x" (instance (export "e" (type (eq $e))) (export "f" (func))))
      (import "g" (func))
      (import "h" (func))
    )"""
    doc = (b'\x01{"docs":"pkg","worlds":{"root":{"docs":"one\\r\\ntwo\\u000cthree\\n\\nfour\\n",'
           b'"stability":{"stable":{"since":"1.2.3","deprecated":"2.0.0"}},'
           b'"interfaces":{"x":{"docs":"inline","stability":{"unstable":{"feature":"ff"}},'
           b'"types":{"e":{"docs":"an enum","items":{"b":"bee"}}},"funcs":{"f":"old-style docs"}}},'
           b'"funcs":{"g":{"docs":""},"h":null}}}}')
    data = _docs_component(doc, wat)
    path = tmp_path / "docs.wasm"
    path.write_bytes(data)
    text = print_wit(data)
    assert text == expected_wit(path)
    assert "/// one\n/// two\x0cthree\n///\n/// four\n@since(version = 1.2.3)\n@deprecated(version = 2.0.0)\n" in text


@pytest.mark.parametrize("payload, message", [
    (b"\x02{}", "expected package-docs version"),
    (b"", "expected package-docs version"),
    (b"\x01{", "invalid 'package-docs'"),
    (b"\x01\xff", "invalid 'package-docs'"),
    (b"\x01" + b"[" * 100_000 + b"]" * 100_000, "invalid 'package-docs'"),
    (b'\x01{"worlds":{"nope":{}}}', "missing world"),
    (b'\x01{"worlds":{"root":{"funcs":{"g":{}}}}}', "missing func"),
    (b'\x01{"extra":1}', "unknown field `extra`"),
    (b'\x01{"worlds":{"root":{"stability":{"stable":{}}}}}', "`since` is missing"),
    (b'\x01{"worlds":{"root":{"docs":7}}}', "not a string"),
    (b'\x01{"worlds":[]}', "not an object"),
])
def test_bad_package_docs_raise_decode_error(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        print_wit(_docs_component(payload))


def test_expanding_types_are_bounded() -> None:
    """A doubling chain of tuples: the validator caps the expansion; the printer caps its text."""
    chain = ['(type $t0 (tuple u8 u8))'] + [f"(type $t{i} (tuple $t{i - 1} $t{i - 1}))" for i in range(1, 40)]
    wat = f'(component {" ".join(chain)} (import "f" (func (param "x" $t39))))'
    with pytest.raises(ValidationError, match="effective type size"):
        print_wit(wat)
    small = f'(component {" ".join(chain[:12])} (import "f" (func (param "x" $t11))))'
    resolve = decode(small)
    assert len(print_resolve(resolve)) > 4096 * 9
    with pytest.raises(UnsupportedError, match="longer than 4096"):
        print_resolve(resolve, limit=4096)


def test_mutated_components_raise_only_documented_errors(wit_builds: dict[str, Path]) -> None:
    """Flip bytes of real components: either WIT or a ComponentError, never anything else."""
    import random

    rng = random.Random(14)
    seeds = [wit_builds[name].read_bytes() for name in sorted(wit_builds)]
    outcomes: dict[str, int] = {}
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(8, len(data))] = rng.randrange(256)
        try:
            print_wit(bytes(data))
            outcomes["printed"] = outcomes.get("printed", 0) + 1
        except ComponentError as err:
            assert str(err)
            outcomes[type(err).__name__] = outcomes.get(type(err).__name__, 0) + 1
    assert outcomes.get("DecodeError", 0) > 0, outcomes


def test_not_a_component() -> None:
    with pytest.raises(DecodeError):
        print_wit(b"\0asm\x01\x00\x00\x00")  # a core module
    with pytest.raises(TypeError):
        print_wit(42)  # type: ignore[arg-type]
