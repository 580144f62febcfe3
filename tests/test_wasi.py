"""The WASI 0.2 host at the Python level: configuration, sandbox, streams, clocks, random, sockets.

These call the host functions directly with a store's ``WasiCtx`` (handles
are passed as ``ResourceHost`` values, as a component's borrows would
resolve), so every rule is checked without building a guest.  Real guests
run in test_wasi_guests.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import wasmtime

import wasmcomponent
from wasmcomponent.errors import ComponentTrap, LinkError
from wasmcomponent.runtime.resources import ResourceHost
from wasmcomponent.wasi import (
    WasiConfig,
    cli,
    clocks,
    filesystem,
    io,
    random,
    set_wasi,
    sockets,
    wasi_ctx,
)
from wasmcomponent.wasi.ctx import Res, all_interfaces
from wasmcomponent.wasi.filesystem import FsError, resolve


def make_ctx(cfg: WasiConfig) -> Any:
    store = wasmtime.Store()
    set_wasi(store, cfg)
    return wasi_ctx(store)


def preopen(ctx: Any, index: int = 0) -> ResourceHost:
    return filesystem.get_directories(ctx)[index][0]


# ------------------------------------------------------------------ configuration


def test_config_is_readable() -> None:
    cfg = WasiConfig()
    cfg.argv = ["a", "b"]
    cfg.env = [("K", "V")]
    assert cfg.argv == ["a", "b"] and cfg.env == [("K", "V")]
    cfg.env = {"X": "1"}
    assert cfg.env == [("X", "1")]
    cfg.inherit_env()
    assert ("PATH", os.environ["PATH"]) in cfg.env
    assert isinstance(cfg, wasmtime.WasiConfig)
    with pytest.raises(wasmtime.WasmtimeError):
        cfg.preopen_dir("/definitely/not/here", "/x")


def test_store_set_wasi_attaches_our_config() -> None:
    store = wasmtime.Store()
    cfg = WasiConfig()
    cfg.argv = ["from-store-set-wasi"]
    store.set_wasi(cfg)
    assert cli.get_arguments(wasi_ctx(store)) == ["from-store-set-wasi"]


def test_native_config_is_honoured(tmp_path: Path) -> None:
    native = wasmtime.WasiConfig()
    native.argv = ["native", "x"]
    native.env = [("K", "v")]
    native.preopen_dir(str(tmp_path), "/data", False)
    native.stdout_file = str(tmp_path / "out.txt")
    for attach in (lambda s: s.set_wasi(native), lambda s: set_wasi(s, native)):
        store = wasmtime.Store()
        attach(store)
        ctx = wasi_ctx(store)
        assert cli.get_arguments(ctx) == ["native", "x"]
        assert cli.get_environment(ctx) == [("K", "v")]
        assert [(p.guest_path, p.mutable) for p in ctx.config.preopens] == [("/data", False)]
        assert ctx.config.stdout == ("file", str(tmp_path / "out.txt"))


def test_a_store_without_wasi_says_so() -> None:
    from wasmcomponent.wasi.ctx import WasiNotConfiguredError

    with pytest.raises(WasiNotConfiguredError, match=r"call `store.set_wasi\(cfg\)`"):
        wasi_ctx(wasmtime.Store())
    assert issubclass(WasiNotConfiguredError, wasmtime.WasmtimeError)


def test_a_native_config_made_before_import_is_refused_by_name() -> None:
    from wasmcomponent.wasi.ctx import WasiNotConfiguredError

    native = wasmtime.WasiConfig()
    del native.__dict__["_wasmcomponent_recorded"]  # as if created before `import wasmcomponent`
    store = wasmtime.Store()
    store.set_wasi(native)
    with pytest.raises(WasiNotConfiguredError, match="before `wasmcomponent` was imported"):
        wasi_ctx(store)


def test_set_wasi_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="expected a WasiConfig"):
        set_wasi(wasmtime.Store(), object())


def test_defaults_deny_everything() -> None:
    ctx = make_ctx(WasiConfig())
    assert cli.get_arguments(ctx) == [] and cli.get_environment(ctx) == []
    assert filesystem.get_directories(ctx) == []
    stdin = cli.get_stdin(ctx)
    assert io.input_read(ctx, stdin, 10) is None  # err(closed)
    assert cli.get_terminal_stdout(ctx) is None
    assert sockets.create_tcp_socket(ctx, "ipv4") == "access-denied"
    assert sockets.create_udp_socket(ctx, "ipv6") == "access-denied"
    # as wasmtime-py 50: a denied lookup fails in `resolve-addresses` itself
    assert sockets.resolve_addresses(ctx, sockets.instance_network(ctx), "example.com") == "permanent-resolver-failure"


def test_every_interface_has_its_functions() -> None:
    names = {iface.name: iface for iface in all_interfaces()}
    assert len(names) == 29  # with wasi:http/types and wasi:http/outgoing-handler  # the 25 a componentize-py hello imports + random insecure(-seed)
    assert len(names["wasi:filesystem/types"].funcs) == 29
    assert len(names["wasi:io/streams"].funcs) == 15
    assert len(names["wasi:sockets/tcp"].funcs) == 28
    assert len(names["wasi:sockets/udp"].funcs) == 18


# ------------------------------------------------------------------ stdio and streams


def test_stdout_to_buffer_callable_and_permits() -> None:
    cfg = WasiConfig()
    out = cfg.stdout_buffer()
    seen: list[bytes] = []
    cfg.stderr_custom = seen.append
    ctx = make_ctx(cfg)
    stream = cli.get_stdout(ctx)
    permit = io.output_check_write(ctx, stream)
    assert permit >= 4096
    assert io.output_write(ctx, stream, b"abc").tag == "ok"
    assert io.output_blocking_flush(ctx, stream).tag == "ok"
    assert io.output_blocking_write_and_flush(ctx, cli.get_stdout(ctx), b"def").tag == "ok"
    assert bytes(out) == b"abcdef"
    io.output_blocking_write_and_flush(ctx, cli.get_stderr(ctx), b"err")
    assert seen == [b"err"]
    fresh = cli.get_stdout(ctx)
    with pytest.raises(ComponentTrap, match="permitted"):
        io.output_write(ctx, fresh, b"x")  # no check-write first
    with pytest.raises(ComponentTrap, match="4096"):
        io.output_blocking_write_and_flush(ctx, fresh, bytes(4097))


def test_stdin_bytes_and_reader() -> None:
    cfg = WasiConfig()
    cfg.stdin_bytes(b"hello world")
    ctx = make_ctx(cfg)
    stdin = cli.get_stdin(ctx)
    assert io.input_read(ctx, stdin, 5) == b"hello"
    assert io.input_blocking_read(ctx, cli.get_stdin(ctx), 100) == b" world"  # one shared source
    assert io.input_read(ctx, stdin, 5) is None
    import io as pyio

    cfg = WasiConfig()
    cfg.stdin_reader(pyio.BytesIO(b"xyz"))
    ctx = make_ctx(cfg)
    assert io.input_skip(ctx, cli.get_stdin(ctx), 2) == 2
    assert io.input_read(ctx, cli.get_stdin(ctx), 9) == b"z"


def test_poll_rules() -> None:
    ctx = make_ctx(WasiConfig())
    with pytest.raises(ComponentTrap, match="empty poll"):
        io.poll(ctx, [])
    stream = cli.get_stdout(ctx)
    pollable = io.output_subscribe(ctx, stream)
    assert io.poll(ctx, [pollable]) == [0]
    with pytest.raises(ComponentTrap, match="children"):
        ctx.drop(stream.rep)  # a stream with a live pollable cannot be dropped
    ctx.drop(pollable.rep)
    ctx.drop(stream.rep)
    with pytest.raises(ComponentTrap):
        ctx.drop(stream.rep)


def test_exit_raises_exit_trap() -> None:
    ctx = make_ctx(WasiConfig())
    with pytest.raises(wasmtime.ExitTrap) as err:
        cli.exit_(ctx, wasmcomponent.Variant("err"))
    assert err.value.code == 1
    with pytest.raises(wasmtime.ExitTrap) as err:
        cli.exit_(ctx, wasmcomponent.Variant("ok"))
    assert err.value.code == 0
    with pytest.raises(wasmtime.ExitTrap) as err:
        cli.exit_with_code(ctx, 42)
    assert err.value.code == 42


# ------------------------------------------------------------------ clocks and random


def test_virtual_clocks_and_deterministic_random() -> None:
    def fresh() -> Any:
        cfg = WasiConfig()
        cfg.deterministic(seed=7, epoch_ns=5 * 10**9 + 3)
        return make_ctx(cfg)

    a, b = fresh(), fresh()
    assert clocks.monotonic_now(a) == 0
    pollable = clocks.subscribe_duration(a, 10**12)  # 1000 s, but virtual
    io.pollable_block(a, pollable)
    assert clocks.monotonic_now(a) == 10**12
    assert clocks.wall_now(a).seconds == 1005
    assert random.get_random_bytes(a, 16) == random.get_random_bytes(b, 16)
    assert random.insecure_seed(a) == random.insecure_seed(b)
    with pytest.raises(ComponentTrap, match="random"):
        random.get_random_bytes(a, (64 << 20) + 1)


def test_real_clocks() -> None:
    ctx = make_ctx(WasiConfig())
    t0 = clocks.monotonic_now(ctx)
    io.pollable_block(ctx, clocks.subscribe_duration(ctx, 2_000_000))
    assert clocks.monotonic_now(ctx) - t0 >= 2_000_000
    past = clocks.subscribe_instant(ctx, 0)
    # as wasmtime's: a reached deadline yields once, then is ready (poll sees it ready at once)
    assert not io.pollable_ready(ctx, past)
    assert io.pollable_ready(ctx, past)
    assert io.poll(ctx, [clocks.subscribe_duration(ctx, 0), clocks.subscribe_duration(ctx, 10**18)]) == [0]
    now = clocks.wall_now(ctx)
    assert 0 <= now.nanoseconds < 10**9 and now.seconds > 1_600_000_000
    assert len(random.get_random_bytes(ctx, 33)) == 33


# ------------------------------------------------------------------ filesystem sandbox


@pytest.fixture()
def sandbox(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "file.txt").write_text("data")
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(str(tmp_path / "outside.txt"), root / "abs-link")
    os.symlink("../outside.txt", root / "rel-escape")
    os.symlink("dir/../file.txt", root / "ok-link")
    os.symlink("dir", root / "dir-link")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    return root


def _code(base_fd: int, path: str, follow: bool = True) -> str:
    try:
        with resolve(base_fd, path, follow) as where:
            assert "/" not in where.name  # the kernel never resolves a path further
            filesystem._lstat(where)
    except FsError as err:
        return err.code
    except OSError as err:
        return filesystem.error_code(err)
    return "ok"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("file.txt", "ok"),
        ("dir/sub/../../file.txt", "ok"),
        ("./dir/./sub", "ok"),
        ("..", "not-permitted"),
        ("dir/../../root/file.txt", "not-permitted"),
        ("/etc/passwd", "not-permitted"),
        ("abs-link", "not-permitted"),
        ("rel-escape", "not-permitted"),
        ("ok-link", "ok"),
        ("dir-link/sub", "ok"),
        ("loop1", "loop"),
        ("loop1/x", "loop"),
        ("missing/x", "no-entry"),
        ("file.txt/", "not-directory"),
        ("file.txt/x", "not-directory"),
        ("bad\0name", "invalid"),
        ("", "no-entry"),
    ],
)
def test_resolve(sandbox: Path, path: str, expected: str) -> None:
    fd = os.open(sandbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _code(fd, path) == expected
    finally:
        os.close(fd)


def test_resolve_without_follow_sees_the_link(sandbox: Path) -> None:
    fd = os.open(sandbox, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert _code(fd, "abs-link", follow=False) == "ok"  # lstat of the link itself
        assert _code(fd, "loop1", follow=False) == "ok"
    finally:
        os.close(fd)


def test_open_read_write_stat_through_the_host(sandbox: Path) -> None:
    cfg = WasiConfig()
    cfg.preopen_dir(sandbox, "/s")
    ctx = make_ctx(cfg)
    root = preopen(ctx)
    assert filesystem.get_flags(ctx, root) == {"read", "mutate-directory"}
    assert filesystem.get_type(ctx, root).payload == "directory"
    new = filesystem.open_at(ctx, root, set(), "dir/new.bin", {"create", "exclusive"}, {"write"})
    assert isinstance(new, ResourceHost)
    assert filesystem.write(ctx, new, b"0123456789", 0) == 10
    assert filesystem.read(ctx, new, 4, 2) == "bad-descriptor"  # opened write-only: the OS refuses
    reader = filesystem.open_at(ctx, root, {"symlink-follow"}, "dir/new.bin", set(), {"read"})
    assert filesystem.read(ctx, reader, 4, 8) == (b"89", False)
    assert filesystem.read(ctx, reader, 4, 10) == (b"", True)
    assert filesystem.stat(ctx, reader).size == 10
    assert filesystem.open_at(ctx, root, set(), "dir/new.bin", {"create", "exclusive"}, {"write"}) == "exist"
    assert filesystem.open_at(ctx, root, set(), "file.txt", {"directory"}, {"read"}) == "not-directory"
    assert filesystem.open_at(ctx, root, set(), "dir", {"directory", "create"}, {"read"}) == "invalid"
    assert filesystem.open_at(ctx, root, set(), "x", {"create"}, {"write", "requested-write-sync"}) == "unsupported"
    assert filesystem.open_at(ctx, root, set(), "../outside.txt", set(), {"read"}) == "not-permitted"
    assert filesystem.open_at(ctx, root, {"symlink-follow"}, "abs-link", set(), {"read"}) == "not-permitted"
    assert filesystem.open_at(ctx, root, set(), "abs-link", set(), {"read"}) == "loop"
    h1 = filesystem.metadata_hash_at(ctx, root, set(), "dir/new.bin")
    h2 = filesystem.metadata_hash(ctx, reader)
    assert (h1.lower, h1.upper) == (h2.lower, h2.upper)
    assert filesystem.is_same_object(ctx, reader, reader)
    entries = filesystem.read_directory(ctx, root)
    names = []
    while (entry := filesystem.read_directory_entry(ctx, entries)) is not None:
        names.append((entry.name, entry.type))
    assert ("dir", "directory") in names and ("abs-link", "symbolic-link") in names
    assert ("file.txt", "regular-file") in names and all(n not in (".", "..") for n, _ in names)
    assert filesystem.readlink_at(ctx, root, "abs-link").tag == "err"
    assert filesystem.readlink_at(ctx, root, "ok-link").payload == "dir/../file.txt"
    assert filesystem.rename_at(ctx, root, "dir/new.bin", root, "moved.bin") is None
    assert filesystem.unlink_file_at(ctx, root, "moved.bin") is None
    assert filesystem.remove_directory_at(ctx, root, "dir") == "not-empty"
    assert filesystem.symlink_at(ctx, root, "/etc", "evil") == "not-permitted"
    assert not (sandbox / "evil").exists()


def test_read_only_preopen(sandbox: Path) -> None:
    cfg = WasiConfig()
    cfg.preopen_dir(sandbox, "/s", fs_mutable=False)
    ctx = make_ctx(cfg)
    root = preopen(ctx)
    assert filesystem.get_flags(ctx, root) == {"read"}
    for flags in ({"create"}, {"truncate"}):
        assert filesystem.open_at(ctx, root, set(), "file.txt", flags, {"read"}) == "not-permitted"
    assert filesystem.open_at(ctx, root, set(), "file.txt", set(), {"write"}) == "not-permitted"
    reader = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read"})
    assert filesystem.write_via_stream(ctx, reader, 0) == "not-permitted"
    assert filesystem.append_via_stream(ctx, reader) == "not-permitted"
    assert filesystem.set_size(ctx, reader, 0) == "not-permitted"
    assert filesystem.write(ctx, reader, b"x", 0) == "not-permitted"
    assert filesystem.create_directory_at(ctx, root, "new") == "not-permitted"
    assert filesystem.unlink_file_at(ctx, root, "file.txt") == "not-permitted"
    assert filesystem.remove_directory_at(ctx, root, "dir/sub") == "not-permitted"
    assert filesystem.rename_at(ctx, root, "file.txt", root, "x") == "not-permitted"
    assert filesystem.symlink_at(ctx, root, "file.txt", "x") == "not-permitted"
    assert filesystem.link_at(ctx, root, set(), "file.txt", root, "x") == "not-permitted"
    stream = filesystem.read_via_stream(ctx, reader, 1)
    assert io.input_blocking_read(ctx, stream, 100) == b"ata"
    assert io.input_read(ctx, stream, 100) is None
    assert (sandbox / "file.txt").read_text() == "data"


def test_errno_mapping() -> None:
    import errno

    assert filesystem.error_code(OSError(errno.ENOENT, "x")) == "no-entry"
    assert filesystem.error_code(OSError(errno.EXDEV, "x")) == "cross-device"
    assert filesystem.error_code(OSError(errno.ENOTEMPTY, "x")) == "not-empty"
    assert filesystem.error_code(PermissionError("x")) == "not-permitted"
    assert filesystem.error_code(OSError("odd")) == "io"


# ------------------------------------------------------------------ linking


MISSING_IMPORT = """
(component
  (import "wasi:nope/missing@0.2.0" (instance (export "f" (func))))
)
"""


def test_add_wasip2_and_missing_interface() -> None:
    engine = wasmtime.Engine()
    linker = wasmcomponent.Linker(engine)
    linker.add_wasip2()
    with pytest.raises(LinkError, match="matching implementation was not found in the linker"):
        linker.instantiate(wasmtime.Store(engine), wasmcomponent.Component(engine, MISSING_IMPORT))


def test_old_and_new_patch_versions_share_resource_types() -> None:
    wat = """
    (component
      (import "wasi:io/poll@0.2.0" (instance $a (export "pollable" (type (sub resource)))))
      (import "wasi:io/poll@0.2.12" (instance $b (export "pollable" (type (sub resource)))))
      (import "wasi:io/streams@0.2.3" (instance $c (export "output-stream" (type (sub resource)))))
    )
    """
    engine = wasmtime.Engine()
    linker = wasmcomponent.Linker(engine)
    linker.add_wasip2()
    linker.instantiate(wasmtime.Store(engine), wasmcomponent.Component(engine, wat))
    assert Res.POLLABLE != Res.OUTPUT_STREAM
