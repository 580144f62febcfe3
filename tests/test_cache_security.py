"""The compile cache cannot be made to run code (issue #10, point 2).

Threat: a guest that can write into the cache directory (``wasmcomponent run
--dir ~``) plants an entry that a later run loads.  Defences under test: the
plan is decoded as data only (no pickle), every cache entry carries an
HMAC-SHA256 whose key lives outside the cache directory, a failing entry is
deleted and recompiled, and the CLI refuses a ``--dir`` that exposes the cache
or its key.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
import struct
from pathlib import Path
from typing import Any, Callable

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmcomponent import Component, Linker, cli
from wasmcomponent.runtime import cache
from wasmcomponent.runtime.cache import (
    ENTRY_MAGIC,
    MAGIC,
    TAG_SIZE,
    CacheKeyError,
    load_cache_key,
    load_component,
)
from wasmcomponent.translate import serial

WAT = """
(component
  (core module $m (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (export "add" (func $add))
)
"""

# No core module, so no native code: any mutation of its serialized bytes is safe to deserialize.
TYPES_ONLY_WAT = """
(component
  (import "i" (instance
    (export "r" (type (sub resource)))
    (type $ls (list string))
    (export "ls" (type $l (eq $ls)))
    (type $os (option u64))
    (export "os" (type $o (eq $os)))
    (type $rs (result u32 (error string)))
    (export "rs" (type $re (eq $rs)))
    (type $vs (variant (case "a" u8) (case "b") (case "c" (tuple s64 f64))))
    (export "vs" (type $v (eq $vs)))
    (type $fs (flags "p" "q"))
    (export "fs" (type $fl (eq $fs)))
    (type $ow (own 0))
    (type $bw (borrow 0))
    (export "f" (func (param "x" $l) (param "y" $o) (result $re)))
    (export "g" (func (param "v" $v) (param "h" $bw) (result $fl)))
    (export "h" (func (result $ow)))))
  (export "j" (instance 0))
)
"""


def _add(engine: wasmtime.Engine, component: Component) -> int:
    store = wasmtime.Store(engine)
    func = Linker(engine).instantiate(store, component).get_func(store, "add")
    result: int = func(store, 40, 2)
    func.post_return(store)
    return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A private cache directory and key file (never the user's), through the environment variables."""
    paths = {
        "cache": tmp_path / "cache",
        "key": tmp_path / "config" / "wasmcomponent" / "cache.key",
        "source": tmp_path / "add.wat",
    }
    paths["source"].write_text(WAT)
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(paths["cache"]))
    monkeypatch.setenv(cache.CACHE_KEY_ENV, str(paths["key"]))
    return paths


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real compiles made by ``load_component``."""
    seen: list[str] = []
    real = cache._compile_with_progress

    def counting(engine: wasmtime.Engine, data: bytes, label: str, progress: Any) -> Component:
        seen.append(label)
        return real(engine, data, label, progress)

    monkeypatch.setattr(cache, "_compile_with_progress", counting)
    return seen


def _entry(paths: dict[str, Path]) -> Path:
    (entry,) = paths["cache"].glob("*.wcc")
    return entry


def _verifies(entry: Path, key_file: Path) -> bool:
    key = load_cache_key(key_file)
    return cache._verified_payload(key, entry.name, entry.read_bytes()) is not None


def _header() -> bytes:
    """The header of a genuine serialized component: an attacker can read or rebuild it easily."""
    data = bytes(Component(wasmtime.Engine(), WAT).serialize())
    (size,) = struct.unpack_from("<I", data, len(MAGIC))
    return data[: len(MAGIC) + 4 + size]


class _Payload:
    """Unpickling this runs code: it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _pickle_payload(marker: Path) -> bytes:
    payload = pickle.dumps(_Payload(marker))
    probe = marker.with_name("probe-marker")
    pickle.loads(pickle.dumps(_Payload(probe)))  # the payload is live: unpickling it does run code
    assert probe.exists()
    return payload


# ------------------------------------------------------------------ tampered entries


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "with-forged-tag"])
def test_pickle_payload_runs_no_code_and_is_replaced(
    env: dict[str, Path], compiles: list[str], tmp_path: Path, wrapped: bool
) -> None:
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    marker = tmp_path / "pwned"
    planted = _header() + _pickle_payload(marker)
    if wrapped:  # the entry format, with a tag made without the key
        planted = ENTRY_MAGIC + os.urandom(TAG_SIZE) + planted
    entry.write_bytes(planted)
    compiles.clear()
    component = load_component(engine, env["source"])
    assert not marker.exists()
    assert compiles == [str(env["source"])]  # rejected, so recompiled
    assert _add(engine, component) == 42
    assert entry.read_bytes() != planted and _verifies(entry, env["key"])
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert compiles == []  # the fresh entry is good


def test_rejected_entry_is_deleted_even_when_recompiling_fails(
    env: dict[str, Path], tmp_path: Path
) -> None:
    """Deletion happens on rejection, before (and independently of) the recompile."""
    engine = wasmtime.Engine()
    source = b"(component (core module $m (func (result i32))))"  # invalid: the recompile fails
    name = (
        cache.hashlib.sha256(source).hexdigest()[:32]
        + "-"
        + cache.engine_fingerprint(engine)[:32]
        + ".wcc"
    )
    env["cache"].mkdir()
    entry = env["cache"] / name
    marker = tmp_path / "pwned"
    entry.write_bytes(ENTRY_MAGIC + os.urandom(TAG_SIZE) + _header() + _pickle_payload(marker))
    with pytest.raises(wasmtime.WasmtimeError):
        load_component(engine, source)
    assert not entry.exists() and not marker.exists()


def test_pickle_body_is_refused_by_deserialize_too(tmp_path: Path) -> None:
    """Even trusted-path deserialization never unpickles: the body is data only."""
    marker = tmp_path / "pwned"
    with pytest.raises(wasmtime.WasmtimeError, match="corrupt serialized plan"):
        Component.deserialize(wasmtime.Engine(), _header() + _pickle_payload(marker))
    assert not marker.exists()


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


TAMPERINGS: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda d: b"\x00garbage" * 100,
    "empty": lambda d: b"",
    "magic-only": lambda d: ENTRY_MAGIC,
    "truncated": lambda d: d[: len(d) // 2],
    "truncated-tag": lambda d: d[: len(ENTRY_MAGIC) + TAG_SIZE - 1],
    "flipped-tag-bit": lambda d: _flip(d, len(ENTRY_MAGIC) + 3),
    "flipped-payload-bit": lambda d: _flip(d, len(d) - 5),
    "flipped-magic-bit": lambda d: _flip(d, 0),
    "appended": lambda d: d + b"\x00",
    "unauthenticated-serialized": lambda d: d[len(ENTRY_MAGIC) + TAG_SIZE :],
}


@pytest.mark.parametrize("tamper", list(TAMPERINGS), ids=list(TAMPERINGS))
def test_tampered_entry_is_deleted_and_recompiled(
    env: dict[str, Path], compiles: list[str], tamper: str
) -> None:
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    good = entry.read_bytes()
    entry.write_bytes(TAMPERINGS[tamper](good))
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1
    assert _verifies(entry, env["key"])


def test_authentic_but_undecodable_entry_is_deleted_and_recompiled(
    env: dict[str, Path], compiles: list[str]
) -> None:
    """A correctly tagged entry whose body does not decode (say, from another version) is replaced."""
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    body = _header() + serial._PREFIX + bytes([serial.OBJ, 0x7F])
    key = load_cache_key(env["key"])
    entry.write_bytes(ENTRY_MAGIC + cache._entry_tag(key, entry.name, body) + body)
    assert _verifies(entry, env["key"])
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1 and entry.read_bytes().endswith(
        bytes(Component(engine, WAT).serialize())[-64:]
    )


def test_entry_under_another_key_is_rejected(
    env: dict[str, Path], compiles: list[str], tmp_path: Path
) -> None:
    """An entry copied from another installation (another key), valid there, is not trusted here."""
    engine = wasmtime.Engine()
    other_cache, other_key = tmp_path / "other-cache", tmp_path / "other" / "cache.key"
    load_component(engine, env["source"], other_cache, key_file=other_key)
    (foreign,) = other_cache.glob("*.wcc")
    env["cache"].mkdir()
    copied = env["cache"] / foreign.name
    copied.write_bytes(foreign.read_bytes())
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1
    assert copied.read_bytes() != foreign.read_bytes() and _verifies(copied, env["key"])


def test_wrong_key_is_rejected(env: dict[str, Path], compiles: list[str]) -> None:
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    env["key"].write_text(
        os.urandom(32).hex() + "\n"
    )  # the key changed: old entries no longer verify
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1 and _verifies(entry, env["key"])


def test_entry_moved_to_another_components_name_is_rejected(
    env: dict[str, Path], compiles: list[str]
) -> None:
    """The tag covers the file name: a good entry of component A cannot stand in for component B."""
    engine = wasmtime.Engine()
    other = env["source"].with_name("other.wat")
    other.write_text(WAT.replace("i32.add", "i32.sub"))
    load_component(engine, env["source"])
    (add_entry,) = env["cache"].glob("*.wcc")
    load_component(engine, other)
    (sub_entry,) = set(env["cache"].glob("*.wcc")) - {add_entry}
    sub_entry.write_bytes(add_entry.read_bytes())
    compiles.clear()
    component = load_component(engine, other)
    assert len(compiles) == 1
    store = wasmtime.Store(engine)
    func = Linker(engine).instantiate(store, component).get_func(store, "add")
    assert func(store, 40, 2) == 38  # the real `other`, not the planted `add`


def test_symlinked_entry_is_not_followed(
    env: dict[str, Path], compiles: list[str], tmp_path: Path
) -> None:
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    target = tmp_path / "elsewhere.bin"
    target.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(target)
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1 and not entry.is_symlink() and _verifies(entry, env["key"])
    assert target.exists()  # the link was removed, not what it pointed to


def test_fifo_in_place_of_an_entry_does_not_block(env: dict[str, Path], compiles: list[str]) -> None:
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    entry = _entry(env)
    entry.unlink()
    os.mkfifo(entry)
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1 and stat.S_ISREG(os.lstat(entry).st_mode) and _verifies(entry, env["key"])


# ------------------------------------------------------------------ the key file


def test_key_is_created_private_outside_the_cache(env: dict[str, Path]) -> None:
    load_component(wasmtime.Engine(), env["source"])
    key_info, dir_info = os.stat(env["key"]), os.stat(env["key"].parent)
    assert stat.S_IMODE(key_info.st_mode) == 0o600
    assert stat.S_IMODE(dir_info.st_mode) == 0o700
    assert len(bytes.fromhex(env["key"].read_text().strip())) == 32
    assert not env["key"].resolve().is_relative_to(env["cache"].resolve())
    assert stat.S_IMODE(os.stat(_entry(env)).st_mode) == 0o600


def test_default_key_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.CACHE_KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cache.cache_key_path() == tmp_path / "xdg" / "wasmcomponent" / "cache.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_key_path() == tmp_path / "home" / ".config" / "wasmcomponent" / "cache.key"
    monkeypatch.setenv(cache.CACHE_KEY_ENV, str(tmp_path / "k"))
    assert cache.cache_key_path() == tmp_path / "k"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o666])
def test_readable_key_is_replaced(env: dict[str, Path], compiles: list[str], mode: int) -> None:
    """A key others could read may be known: a new key is made, which invalidates every entry."""
    engine = wasmtime.Engine()
    load_component(engine, env["source"])
    old = env["key"].read_text()
    os.chmod(env["key"], mode)
    compiles.clear()
    assert _add(engine, load_component(engine, env["source"])) == 42
    assert len(compiles) == 1
    assert env["key"].read_text() != old
    assert stat.S_IMODE(os.stat(env["key"]).st_mode) == 0o600
    assert _verifies(_entry(env), env["key"])


def test_malformed_key_is_replaced(env: dict[str, Path]) -> None:
    env["key"].parent.mkdir(parents=True, mode=0o700)
    env["key"].write_text("not a key")
    os.chmod(env["key"], 0o600)
    key = load_cache_key()
    assert len(key) == 32 and bytes.fromhex(env["key"].read_text().strip()) == key


def _untrusted_key(env: dict[str, Path], how: str, tmp_path: Path) -> None:
    env["key"].parent.mkdir(parents=True, mode=0o700)
    if how == "open-directory":
        os.chmod(env["key"].parent, 0o777)
    elif how == "symlink":
        real = tmp_path / "real.key"
        real.write_text(os.urandom(32).hex())
        os.chmod(real, 0o600)
        env["key"].symlink_to(real)
    elif how == "directory":
        env["key"].mkdir()
    elif how == "fifo":
        os.mkfifo(env["key"], 0o600)
    elif how == "foreign-owner":
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        env["key"].write_text(os.urandom(32).hex())
        os.chmod(env["key"], 0o600)
        os.chown(env["key"], 54321, -1)


@pytest.mark.parametrize("how", ["open-directory", "symlink", "directory", "fifo", "foreign-owner"])
def test_untrusted_key_disables_the_cache(
    env: dict[str, Path], compiles: list[str], tmp_path: Path, how: str
) -> None:
    """A key that cannot be trusted or safely replaced: a clear error, and loads go uncached."""
    _untrusted_key(env, how, tmp_path)
    with pytest.raises(
        CacheKeyError, match=str(env["key"].parent) if how == "open-directory" else str(env["key"])
    ):
        load_cache_key()
    engine = wasmtime.Engine()
    progress = io.StringIO()
    for _ in range(2):
        assert _add(engine, load_component(engine, env["source"], progress=progress)) == 42
    assert len(compiles) == 2  # nothing cached
    assert not list(env["cache"].glob("*.wcc")) if env["cache"].exists() else True
    assert "compile cache disabled" in progress.getvalue()
    with pytest.warns(RuntimeWarning, match="compile cache disabled"):
        load_component(engine, env["source"])


# ------------------------------------------------------------------ the CLI refuses to expose the cache


def _cli(*args: str) -> int:
    return cli.main(["run", *args])


@pytest.mark.parametrize("which", ["cache", "key"])
@pytest.mark.parametrize("form", ["equal", "ancestor", "symlink", "guest-name"])
def test_cli_refuses_a_preopen_over_the_cache_or_key(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path, which: str, form: str
) -> None:
    env["cache"].mkdir(exist_ok=True)
    load_cache_key()  # the key exists
    protected = env["cache"] if which == "cache" else env["key"].parent
    if form == "equal":
        host = str(protected)
    elif form == "ancestor":
        host = str(tmp_path)
    elif form == "symlink":  # a link to the ancestor: compared after realpath
        link = tmp_path.parent / f"{tmp_path.name}-link"
        link.symlink_to(tmp_path)
        host = str(link)
    else:
        host = f"{protected}::/data"
    status = _cli("--dir", host, "--invoke", "add(1, 2)", str(env["source"]))
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.startswith("error: --dir ") and err.count("\n") == 1
    named = os.path.realpath(env["cache"] if which == "cache" else env["key"])
    assert named in err and host.partition("::")[0] in err
    assert not list(env["cache"].glob("*.wcc"))  # refused before loading anything


def test_cli_no_cache_allows_the_cache_directory_but_never_the_key(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env["cache"].mkdir()
    assert (
        _cli("--no-cache", "--dir", str(env["cache"]), "--invoke", "add(1, 2)", str(env["source"]))
        == 0
    )
    assert capsys.readouterr().out == "3\n"
    assert not list(env["cache"].glob("*.wcc"))
    assert (
        _cli("--no-cache", "--dir", str(tmp_path), "--invoke", "add(1, 2)", str(env["source"])) == 2
    )
    assert os.path.realpath(env["key"]) in capsys.readouterr().err


def test_cli_allows_unrelated_and_nested_preopens(
    env: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    inside = env["cache"] / "sub"  # below the cache: the guest cannot reach the entries above it
    inside.mkdir(parents=True)
    assert (
        _cli(
            "--dir",
            str(data),
            "--dir",
            f"{inside}::/x",
            "--invoke",
            "add(1, 2)",
            str(env["source"]),
        )
        == 0
    )
    assert capsys.readouterr().out == "3\n"
    assert len(list(env["cache"].glob("*.wcc"))) == 1


def test_run_help_documents_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "WASMCOMPONENT_CACHE_KEY_FILE" in text and "HMAC" in text and "refused" in text


# ------------------------------------------------------------------ fuzzing the decoders

_MUTATION = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
        st.integers(0, 1 << 30),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=8,
)


def _mutate(data: bytes, edits: list[tuple[str, int, int]], protect: int = 0) -> bytes:
    """``data`` with ``edits`` applied at positions >= ``protect`` (so a prefix can be kept to get past it)."""
    buf = bytearray(data)
    for kind, where, value in edits:
        span = len(buf) - protect
        if span <= 0:
            break
        at = protect + where % span
        if kind == "flip":
            buf[at] ^= 1 << (value % 8)
        elif kind == "set":
            buf[at] = value
        elif kind == "insert":
            buf[at:at] = bytes([value])
        elif kind == "delete":
            del buf[at]
        else:
            del buf[at:]
    return bytes(buf)


_TYPES_ONLY = bytes(Component(wasmtime.Engine(), TYPES_ONLY_WAT).serialize())
_PLAN = serial.dumps_plan(Component.deserialize(wasmtime.Engine(), _TYPES_ONLY)._plan)


def test_types_only_component_roundtrips() -> None:
    engine = wasmtime.Engine()
    copy = Component.deserialize(engine, _TYPES_ONLY)
    assert sorted(copy.type.exports(engine)) == ["j"]
    assert bytes(copy.serialize()) == _TYPES_ONLY


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_MUTATION, past_header=st.booleans())
def test_mutated_serialized_component_raises_only_wasmtime_errors(
    edits: list[tuple[str, int, int]], past_header: bool
) -> None:
    protect = (
        len(_header()) if past_header else 0
    )  # also reach the plan decoder, not just the header check
    data = _mutate(_TYPES_ONLY, edits, protect)
    try:
        Component.deserialize(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError:
        pass


_WITH_MODULE = bytes(Component(wasmtime.Engine(), WAT).serialize())
_WITH_MODULE_PLAN_END = len(_header()) + len(
    serial.dumps_plan(Component.deserialize(wasmtime.Engine(), _WITH_MODULE)._plan)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=_MUTATION)
def test_mutated_plan_of_a_component_with_code_raises_only_wasmtime_errors(
    edits: list[tuple[str, int, int]],
) -> None:
    """Mutations of the header and plan (never of the native code, which is trusted by definition)."""
    native = _WITH_MODULE[_WITH_MODULE_PLAN_END:]
    data = _mutate(_WITH_MODULE[:_WITH_MODULE_PLAN_END], edits) + native
    try:
        Component.deserialize(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError:
        pass


@settings(max_examples=1000, deadline=None)
@given(edits=_MUTATION)
def test_mutated_plan_raises_only_decode_errors(edits: list[tuple[str, int, int]]) -> None:
    from wasmcomponent.errors import DecodeError

    try:
        serial.loads_plan(_mutate(_PLAN, edits, protect=7))
    except DecodeError:
        pass


@settings(max_examples=500, deadline=None)
@given(body=st.binary(max_size=200))
def test_random_plan_bytes_raise_only_decode_errors(body: bytes) -> None:
    from wasmcomponent.errors import DecodeError

    try:
        serial.loads_plan(serial._PREFIX + body)
    except DecodeError:
        pass


@pytest.mark.parametrize(
    "body",
    [
        bytes([serial.STR]) + b"\xff" * 9 + b"\x7f",  # a string of 2**70 bytes
        bytes([serial.TUPLE]) + b"\xff\xff\xff\xff\x0f",  # 2**32 items from an empty stack
        bytes([serial.INT]) + b"\xff" * 64,  # an endless varint
        bytes([serial.NONE])
        + bytes([serial.TUPLE, 1]) * 200_000,  # deep nesting: iterative, no RecursionError
        bytes([serial.REF, 0]),  # a reference to nothing
        bytes([serial.OBJ, 0x7F]),  # an unregistered class tag
        bytes([serial.STR, 3])
        + b"u64"
        + bytes([serial.OBJ, 0])
        + bytes([serial.REF, 0, serial.LIST, 2]),  # shape
        bytes([serial.STR, 4]) + b"evil" + bytes([serial.OBJ, 0]),  # not a primitive type
        bytes([serial.STR, 2]) + b"\xc3\x28",  # invalid UTF-8
    ],
    ids=[
        "huge-string",
        "huge-tuple",
        "long-varint",
        "deep",
        "dangling-ref",
        "bad-tag",
        "wrong-shape",
        "bad-prim",
        "utf8",
    ],
)
def test_hostile_plan_encodings(body: bytes) -> None:
    from wasmcomponent.errors import DecodeError

    with pytest.raises(DecodeError, match="corrupt serialized plan"):
        serial.loads_plan(serial._PREFIX + body)


def test_a_component_the_codec_cannot_encode_still_loads_uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_component's promise: cache failures never fail the load."""
    import wasmtime

    from wasmcomponent.runtime import cache
    from wasmcomponent.runtime.component import Component

    def refuse(self: object) -> bytes:
        raise wasmtime.WasmtimeError("cannot serialize this component: planted")

    monkeypatch.setattr(Component, "serialize", refuse)
    wat = tmp_path / "hello.wat"
    wat.write_text((Path(__file__).resolve().parents[1] / "examples" / "hello.wat").read_text())
    engine = wasmtime.Engine()
    component = cache.load_component(engine, wat, cache_dir=tmp_path / "cache", key_file=tmp_path / "key")
    assert component.get_export_index("greet") is not None
    assert list((tmp_path / "cache").glob("*.wcc")) == []  # nothing was cached
