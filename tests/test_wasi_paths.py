"""The filesystem sandbox at the host level: the trailing-slash race, path limits,
the descriptor budget and guest integers (see ``wasi/filesystem.py``'s invariant).

The same attacks driven by a real guest are in ``test_wasi_sandbox.py``.
"""

from __future__ import annotations

import gc
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from wasmcomponent.runtime.resources import ResourceHost
from wasmcomponent.types.values import Record, Variant
from wasmcomponent.wasi import WasiConfig, filesystem, set_wasi, wasi_ctx
from wasmcomponent.wasi.filesystem import FsError, PathLimits, resolve

U64 = (1 << 64) - 1
BOUNDARY = [0, 1 << 31, (1 << 32) - 1, 1 << 63, U64]


def make_ctx(cfg: WasiConfig) -> Any:
    store = wasmtime.Store()
    set_wasi(store, cfg)
    return wasi_ctx(store)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """``tmp/root`` (the preopen) beside ``tmp/outside`` (with a canary)."""
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "file.txt").write_text("data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary").write_text("secret")
    return root


def _ctx(root: Path, **limits: int) -> tuple[Any, ResourceHost]:
    cfg = WasiConfig()
    cfg.preopen_dir(root, "/s")
    for name, value in limits.items():
        setattr(cfg, name, value)
    ctx = make_ctx(cfg)
    return ctx, filesystem.get_directories(ctx)[0][0]


def _snapshot(path: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(path)), p.lstat().st_mtime_ns) for p in path.rglob("*"))


# ------------------------------------------------------------------ the trailing-slash race


def test_resolve_never_hands_the_kernel_a_slash(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for path in ("d/", "d//", "./d/", "file.txt/"):
            with resolve(fd, path, False) as where:
                assert "/" not in where.name and where.must_be_dir
        with resolve(fd, "d/..", False) as where:
            assert where.name == "." and not where.must_be_dir
    finally:
        os.close(fd)


def test_trailing_slash_on_a_symlink_swapped_in_late_does_not_escape(tree: Path) -> None:
    """The race, made deterministic: the check saw a directory, the call meets a symlink."""
    ctx, root = _ctx(tree)
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with resolve(fd, "d/", False) as where:
            os.rmdir(tree / "d")
            os.symlink("../outside", tree / "d")  # swapped after resolution
            with pytest.raises(OSError):
                where.open_dir()  # O_NOFOLLOW | O_DIRECTORY: ELOOP, never the outside directory
            with pytest.raises(OSError):
                filesystem._lstat(where)
    finally:
        os.close(fd)
    assert filesystem.stat_at(ctx, root, set(), "d/") == "not-permitted"  # resolved through the link now


SWAPPER = """
import os, sys, time
root, seconds = sys.argv[1], float(sys.argv[2])
d, parked, link = (os.path.join(root, n) for n in ("d", "d.dir", "d.link"))
end = time.monotonic() + seconds
while time.monotonic() < end and not os.path.exists(os.path.join(root, "stop")):
    try:
        os.symlink("../outside", link)
        os.rename(d, parked)
        os.rename(link, d)  # d is now a symlink that escapes the preopen
        os.unlink(d)
        os.rename(parked, d)  # and the real directory again
    except OSError:
        pass
"""


def test_trailing_slash_race_with_another_process(tree: Path) -> None:
    """A concurrent actor (another process: no GIL in the way) swaps ``d`` for a symlink."""
    import subprocess
    import sys

    ctx, root = _ctx(tree)
    outside = tree.parent / "outside"
    before = _snapshot(outside)
    outside_hash = filesystem._hash_value(ctx, os.stat(outside))
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(tree), "60"])
    escapes = dirs = 0
    try:
        for _ in range(20_000):
            opened = filesystem.open_at(ctx, root, set(), "d/", set(), {"read", "mutate-directory"})
            if isinstance(opened, ResourceHost):
                dirs += 1
                created = filesystem.open_at(ctx, opened, set(), "probe", {"create"}, {"write"})
                entries = filesystem.read_directory(ctx, opened)
                while isinstance(entry := filesystem.read_directory_entry(ctx, entries), Record):
                    escapes += entry.name == "canary"
                for handle in (created, entries, opened):
                    if isinstance(handle, ResourceHost):
                        ctx.drop(handle.rep)
            assert isinstance(filesystem.stat_at(ctx, root, set(), "d/"), (str, Record))
            hashed = filesystem.metadata_hash_at(ctx, root, set(), "d/")
            assert isinstance(hashed, (str, Record))
            escapes += hashed == outside_hash  # identifies the directory it reached
            when = Variant("timestamp", Record(seconds=1, nanoseconds=0))
            assert filesystem.set_times_at(ctx, root, set(), "d/", when, when) in (None, "loop", "no-entry", "not-directory", "not-permitted")
    finally:
        (tree / "stop").touch()
        swapper.wait(timeout=30)
    assert escapes == 0, f"{escapes} escapes in {dirs} opened directories"
    assert not (outside / "probe").exists()
    assert _snapshot(outside) == before  # set-times-at never reached outside/ either
    assert dirs > 0  # the race window was exercised: some opens met the real directory


# ------------------------------------------------------------------ trailing-slash semantics


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda ctx, r: filesystem.unlink_file_at(ctx, r, "file.txt/"), "not-directory"),
        (lambda ctx, r: filesystem.unlink_file_at(ctx, r, "d/"), "is-directory"),
        (lambda ctx, r: filesystem.rename_at(ctx, r, "file.txt/", r, "x"), "not-directory"),
        (lambda ctx, r: filesystem.rename_at(ctx, r, "file.txt", r, "x/"), "not-directory"),
        (lambda ctx, r: filesystem.link_at(ctx, r, set(), "file.txt/", r, "x"), "not-directory"),
        (lambda ctx, r: filesystem.link_at(ctx, r, set(), "d/", r, "x"), "not-permitted"),
        (lambda ctx, r: filesystem.symlink_at(ctx, r, "file.txt", "new/"), "no-entry"),
        (lambda ctx, r: filesystem.symlink_at(ctx, r, "file.txt", "d/"), "exist"),
        (lambda ctx, r: filesystem.readlink_at(ctx, r, "d/").payload, "invalid"),
        (lambda ctx, r: filesystem.open_at(ctx, r, set(), "file.txt/", set(), {"read"}), "not-directory"),
        (lambda ctx, r: filesystem.open_at(ctx, r, set(), "new/", {"create"}, {"write"}), "is-directory"),
        (lambda ctx, r: filesystem.stat_at(ctx, r, set(), "file.txt/"), "not-directory"),
    ],
)
def test_trailing_slash_semantics(tree: Path, call: Any, expected: str) -> None:
    ctx, root = _ctx(tree)
    assert call(ctx, root) == expected
    assert (tree / "file.txt").read_text() == "data" and (tree / "d").is_dir()


def test_trailing_slash_on_directories_still_works(tree: Path) -> None:
    ctx, root = _ctx(tree)
    assert filesystem.stat_at(ctx, root, set(), "d/").type == "directory"
    assert filesystem.create_directory_at(ctx, root, "e/") is None
    assert filesystem.rename_at(ctx, root, "e/", root, "f/") is None
    assert filesystem.remove_directory_at(ctx, root, "f/") is None
    assert isinstance(filesystem.open_at(ctx, root, set(), "d/", set(), {"read"}), ResourceHost)


# ------------------------------------------------------------------ path limits


def test_path_limits(tree: Path) -> None:
    ctx, root = _ctx(tree, max_path_bytes=64, max_path_components=4)
    assert filesystem.stat_at(ctx, root, set(), "a" * 65) == "name-too-long"
    assert filesystem.stat_at(ctx, root, set(), "é" * 33) == "name-too-long"  # 66 UTF-8 bytes
    assert filesystem.stat_at(ctx, root, set(), "d/./././.") == "name-too-long"
    assert filesystem.stat_at(ctx, root, set(), "d/./.").type == "directory"
    # A symlink cannot grow the walk past the limit either.
    os.symlink("d/././.", tree / "grow")
    assert filesystem.stat_at(ctx, root, {"symlink-follow"}, "grow/.") == "name-too-long"
    assert filesystem.symlink_at(ctx, root, "x" * 65, "link") == "name-too-long"
    assert filesystem.symlink_at(ctx, root, "a\0b", "link") == "invalid"


def test_default_path_limit_rejects_a_huge_path_before_building_anything(tree: Path) -> None:
    ctx, root = _ctx(tree)
    assert filesystem.open_at(ctx, root, set(), "a/" * (1 << 20), set(), {"read"}) == "name-too-long"
    assert filesystem.open_at(ctx, root, set(), "/" * 5000, set(), {"read"}) == "name-too-long"


def test_resolve_limits_are_parameters(tree: Path) -> None:
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FsError) as err:
            resolve(fd, "d/d/d", False, PathLimits(max_bytes=100, max_components=2))
        assert err.value.code == "name-too-long"
    finally:
        os.close(fd)


# ------------------------------------------------------------------ descriptors


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_descriptor_budget(tree: Path) -> None:
    ctx, root = _ctx(tree, max_host_descriptors=16)
    base = _open_fds()
    for _ in range(100):  # get-directories shares the context's fds
        filesystem.get_directories(ctx)
    assert _open_fds() == base
    handles = []
    while isinstance(h := filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read"}), ResourceHost):
        handles.append(h)
        assert len(handles) <= 16
    assert h == "io" and len(handles) == 16
    assert _open_fds() == base + 16
    # The host itself is not starved.
    with open(tree / "file.txt") as f, socket.socket() as s:
        assert f.read() == "data" and s.fileno() >= 0
    ctx.drop(handles.pop().rep)
    assert isinstance(filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read"}), ResourceHost)
    del ctx, root, handles, h
    gc.collect()
    assert _open_fds() < base  # the dropped context closed what the guest held, and its preopen


def test_failed_opens_give_back_their_unit(tree: Path) -> None:
    ctx, root = _ctx(tree, max_host_descriptors=2)
    for _ in range(10):
        assert filesystem.open_at(ctx, root, set(), "missing", set(), {"read"}) == "no-entry"
        assert filesystem.open_at(ctx, root, set(), "file.txt", {"directory"}, {"read"}) == "not-directory"
    assert ctx.descriptors.used == 0


# ------------------------------------------------------------------ guest integers


@pytest.mark.parametrize("value", BOUNDARY)
def test_offsets_and_sizes_never_raise(tree: Path, value: int) -> None:
    """Past ``i64`` an offset or size is ``invalid`` (the kernel's EINVAL in wasmtime)."""
    ctx, root = _ctx(tree)
    f = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read", "write"})
    past_off_t = value >= 1 << 63
    assert filesystem.read(ctx, f, value, value) == ("invalid" if past_off_t else (b"", True))
    for advice in ("normal", "dont-need"):
        # wasmtime: an offset past i64 is ignored (ok), a length past it is the kernel's EINVAL.
        assert filesystem.advise(ctx, f, value, 10, advice) is None
        assert filesystem.advise(ctx, f, 0, value, advice) == ("invalid" if past_off_t else None)
    if past_off_t:  # smaller ones are legal (a sparse 4 GiB file), and pointless to create here
        assert filesystem.write(ctx, f, b"x", value) == "invalid"
        assert filesystem.set_size(ctx, f, value) == "invalid"
    assert (tree / "file.txt").read_text() == "data"


@pytest.mark.parametrize("seconds", BOUNDARY)
def test_timestamps_never_raise(tree: Path, seconds: int) -> None:
    ctx, root = _ctx(tree)
    when = Variant("timestamp", Record(seconds=seconds, nanoseconds=U64 & 0xFFFFFFFF))
    result = filesystem.set_times_at(ctx, root, set(), "file.txt", when, when)
    if seconds >= 1 << 63:
        assert result == "overflow"
    else:
        assert result in (None, "invalid", "overflow")  # the kernel's range, not ours
    f = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read", "write"})
    assert filesystem.set_times(ctx, f, when, Variant("no-change")) == result


def test_nanoseconds_carry_into_seconds(tree: Path) -> None:
    ctx, root = _ctx(tree)
    when = Variant("timestamp", Record(seconds=1_000_000_000, nanoseconds=2_500_000_000))
    assert filesystem.set_times_at(ctx, root, set(), "file.txt", when, when) is None
    assert (tree / "file.txt").stat().st_mtime_ns == 1_000_000_002_500_000_000


def test_opening_a_fifo_never_blocks_the_host(tree: Path) -> None:
    os.mkfifo(tree / "fifo")  # placed by the host; a guest cannot make one
    ctx, root = _ctx(tree)
    reader = filesystem.open_at(ctx, root, set(), "fifo", set(), {"read"})
    assert isinstance(reader, ResourceHost)  # no writer yet: a blocking open would hang here
    assert os.get_blocking(ctx.get(reader, filesystem.Descriptor).fd)  # reads block as expected
    writer = filesystem.open_at(ctx, root, set(), "fifo", set(), {"write"})
    assert isinstance(writer, ResourceHost)  # a reader exists now
    ctx.drop(reader.rep)
    # No reader left: a non-blocking open for writing fails at once (ENXIO) instead of waiting.
    assert filesystem.open_at(ctx, root, set(), "fifo", set(), {"write"}) == "no-such-device"


def test_a_descriptor_dropped_before_its_streams_stays_open_until_they_go(tree: Path) -> None:
    """As in wasmtime: the handle may go first; the fd closes with the last stream."""
    ctx, root = _ctx(tree, max_host_descriptors=4)
    f = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read", "write"})
    reader = filesystem.read_via_stream(ctx, f, 0)
    writer = filesystem.write_via_stream(ctx, f, 4)
    desc = ctx.get(f, filesystem.Descriptor)
    ctx.drop(f.rep)  # no "resource has children" trap
    assert desc.fd >= 0 and ctx.descriptors.used == 1
    ctx.drop(reader.rep)
    assert desc.fd >= 0  # the writer still uses it
    ctx.drop(writer.rep)
    assert desc.fd == -1 and ctx.descriptors.used == 0
    # An input stream's pollable still keeps its stream's handle alive, as in wasmtime.
    f = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read"})
    reader = filesystem.read_via_stream(ctx, f, 0)
    from wasmcomponent.wasi import io

    io.input_subscribe(ctx, reader)
    with pytest.raises(Exception, match="resource has children"):
        ctx.drop(reader.rep)


def test_a_dropped_context_closes_orphaned_descriptors(tree: Path) -> None:
    ctx, root = _ctx(tree)
    f = filesystem.open_at(ctx, root, set(), "file.txt", set(), {"read"})
    filesystem.read_via_stream(ctx, f, 0)
    desc = ctx.get(f, filesystem.Descriptor)
    ctx.drop(f.rep)
    assert desc.fd >= 0  # its stream is still open
    del ctx, root, f
    gc.collect()
    assert desc.fd == -1  # closed with the context
