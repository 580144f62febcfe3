"""``wasi:filesystem`` 0.2: types and preopens, sandboxed to the preopened directories.

Sandbox invariant.  The kernel is never handed a path that it resolves
further: every ``*-at`` path is resolved by :func:`resolve`, one component at
a time, from the base descriptor's directory fd, and every system call made
on its result takes a directory fd plus a single name that contains no ``/``
and is acted on without following a symlink (``O_NOFOLLOW``,
``follow_symlinks=False``, ``AT_SYMLINK_NOFOLLOW``; ``mkdir``, ``rmdir``,
``unlink``, ``rename``, ``symlink`` and ``link`` never follow the last name).
In detail:

* intermediate directories are opened with ``O_NOFOLLOW | O_DIRECTORY``
  relative to the previous one (never by joining strings);
* ``.`` is skipped, ``..`` pops the fd stack and fails with ``not-permitted``
  past the base;
* a symlink met on the way (or last, when following, or last before a
  trailing ``/``) is read with ``readlink(dir_fd=...)``: an absolute target is
  ``not-permitted``, a relative one is spliced in front of the remaining
  components, and more than :data:`MAX_SYMLINK_EXPANSIONS` expansions is
  ``loop``;
* a trailing ``/`` is never passed on (Linux follows a symlink before a
  trailing slash even under ``O_NOFOLLOW``, so a guest that swaps a directory
  for a symlink between the check and the call would escape).  It becomes
  :attr:`Resolved.must_be_dir`, and each operation enforces it itself: on the
  entry opened ``O_NOFOLLOW | O_DIRECTORY`` where it acts on the entry
  (``open-at``, ``stat-at``, ``set-times-at``, ``metadata-hash-at``), or by a
  type check of the unfollowed entry where it only names it (``unlink``,
  ``rename``, ``link``, ``readlink``).  A concurrent swap can then only make
  the operation fail (``loop``, ``not-directory``) or act on the symlink
  itself, which lives inside the sandbox.
* A path longer than ``WasiConfig.max_path_bytes`` or with more than
  ``max_path_components`` components (also after symlink expansion) is
  ``name-too-long``.

POSIX only (``dir_fd`` support).  ``openat2(RESOLVE_BENEATH)`` would give the
same guarantee in one call on Linux 5.6+; the component walk is kept because
it works on every POSIX kernel and is already race-free by the invariant.

Permissions follow wasmtime: a read-only preopen (``fs_mutable=False``)
refuses every mutation with ``not-permitted``; the open mode of a file is
only reported by ``get-flags``, the OS enforces it (``bad-descriptor``), as in
wasmtime 50 (measured side by side).  OS errors map to ``error-code`` with wasmtime's errno
table.  Guest integers: an offset or size past ``i64`` (which the kernel
cannot represent) is ``invalid``, a timestamp past the host's range is
``overflow``, as in wasmtime.  Every descriptor opened for the guest claims a
unit of the store's :class:`~.ctx.DescriptorBudget` (``io`` past it, the code
wasmtime reports for ``EMFILE``); the preopens handed out by
``get-directories`` share the context's own descriptors and cost nothing.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as st
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..runtime.resources import ResourceHost
from ..types.values import Record, Variant
from .ctx import DescriptorBudget, HostObject, Interface, Res
from .io import FileInput, FileOutput, IoError

if TYPE_CHECKING:
    from .config import WasiConfig
    from .ctx import WasiCtx

MAX_SYMLINK_EXPANSIONS = 40
U64 = (1 << 64) - 1
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

_ERRNO_CODES: dict[int, str] = {}


def _errno_table() -> dict[int, str]:
    if _ERRNO_CODES:
        return _ERRNO_CODES
    names = {
        "EACCES": "access", "EAGAIN": "would-block", "EWOULDBLOCK": "would-block", "EALREADY": "already",
        "EBADF": "bad-descriptor", "EBUSY": "busy", "EDEADLK": "deadlock", "EDQUOT": "quota",
        "EEXIST": "exist", "EFBIG": "file-too-large", "EILSEQ": "illegal-byte-sequence",
        "EINPROGRESS": "in-progress", "EINTR": "interrupted", "EINVAL": "invalid", "EIO": "io",
        "EISDIR": "is-directory", "ELOOP": "loop", "EMLINK": "too-many-links", "EMSGSIZE": "message-size",
        "ENAMETOOLONG": "name-too-long", "ENODEV": "no-device", "ENOENT": "no-entry", "ENOLCK": "no-lock",
        "ENOMEM": "insufficient-memory", "ENOSPC": "insufficient-space", "ENOTDIR": "not-directory",
        "ENOTEMPTY": "not-empty", "ENOTRECOVERABLE": "not-recoverable", "ENOTSUP": "unsupported",
        "EOPNOTSUPP": "unsupported", "ENOSYS": "unsupported", "ENOTTY": "no-tty", "ENXIO": "no-such-device",
        "EOVERFLOW": "overflow", "EPERM": "not-permitted", "EPIPE": "pipe", "EROFS": "read-only",
        "ESPIPE": "invalid-seek", "ETXTBSY": "text-file-busy", "EXDEV": "cross-device",
    }  # fmt: skip
    for name, code in names.items():
        value = getattr(errno, name, None)
        if value is not None:
            _ERRNO_CODES.setdefault(value, code)
    return _ERRNO_CODES


def error_code(err: OSError) -> str:
    """The WASI ``error-code`` of an ``OSError`` (errno first, then the exception class)."""
    code = _errno_table().get(err.errno) if err.errno is not None else None
    if code is not None:
        return code
    if isinstance(err, FileNotFoundError):
        return "no-entry"
    if isinstance(err, PermissionError):
        return "not-permitted"
    if isinstance(err, FileExistsError):
        return "exist"
    return "io"


class FsError(Exception):
    """A filesystem operation failed with the WASI error code ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# ------------------------------------------------------------------ descriptors


class Descriptor(HostObject):
    """An open host file or directory, with the permissions of the preopen it came from."""

    __slots__ = ("fd", "is_dir", "mutable", "read", "write", "budget")
    outlives_handle = True  # streams read and write its fd after the guest drops it

    def __init__(
        self,
        fd: int,
        is_dir: bool,
        mutable: bool,
        read: bool,
        write: bool,
        budget: Optional[DescriptorBudget] = None,
    ) -> None:
        super().__init__()
        self.fd = fd
        self.is_dir = is_dir
        self.mutable = mutable
        self.read = read
        self.write = write
        # The unit claimed for ``fd``; None for a preopen, whose fd the context owns.
        self.budget = budget

    def close(self) -> None:
        if self.fd >= 0 and self.budget is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.budget.release()
            self.budget = None
        self.fd = -1

    def dir_fd(self) -> int:
        if not self.is_dir:
            raise FsError("not-directory")
        return self.fd

    def file_fd(self) -> int:
        if self.is_dir:
            raise FsError("bad-descriptor")
        return self.fd

    def check_mutable(self) -> None:
        if not self.mutable:
            raise FsError("not-permitted")


class DirectoryEntries(HostObject):
    """A ``directory-entry-stream``: the entries listed when it was opened."""

    __slots__ = ("entries", "pos")

    def __init__(self, entries: list[tuple[str, Optional[str]]]) -> None:
        super().__init__()
        self.entries = entries
        self.pos = 0


class FilesystemState:
    """The preopened directories of one context (opened when the context is built)."""

    def __init__(self, config: WasiConfig) -> None:
        self.preopens: list[tuple[int, str, bool]] = []
        for preopen in config.preopens:
            fd = os.open(preopen.host_path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
            self.preopens.append((fd, preopen.guest_path, preopen.mutable))
        self.hash_key = os.urandom(16)
        self.limits = PathLimits(config.max_path_bytes, config.max_path_components)

    def __del__(self) -> None:
        for fd, _, _ in getattr(self, "preopens", ()):
            try:
                os.close(fd)
            except OSError:
                pass


# ------------------------------------------------------------------ path resolution


class Resolved:
    """Where a path leads: a directory fd and one name in it (never containing ``/``).

    ``must_be_dir`` records a trailing ``/``: the operation must treat the
    entry as a directory without ever passing the slash to the kernel.
    """

    __slots__ = ("dir_fd", "name", "opened", "must_be_dir")

    def __init__(self, dir_fd: int, name: str, opened: list[int], must_be_dir: bool) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.opened = opened
        self.must_be_dir = must_be_dir

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        _close_all(self.opened)
        self.opened = []

    def lstat(self) -> os.stat_result:
        """The entry itself, never following a symlink."""
        return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)

    def open_dir(self) -> int:
        """A new fd of the entry, which must be a real directory (``O_NOFOLLOW | O_DIRECTORY``)."""
        return os.open(self.name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.dir_fd)

    def require_dir(self, otherwise: str = "not-directory") -> None:
        """For a name-only operation with a trailing ``/``: fail unless the entry is a directory."""
        if self.must_be_dir and not st.S_ISDIR(self.lstat().st_mode):
            raise FsError(otherwise)


@dataclass(frozen=True)
class PathLimits:
    """How long a guest path may be (``WasiConfig.max_path_bytes``/``max_path_components``)."""

    max_bytes: int = 4096
    max_components: int = 256


_DEFAULT_LIMITS = PathLimits()


def _components(path: str) -> tuple[list[str], bool]:
    """Split ``path`` into components; the flag is true for a trailing slash."""
    parts = [p for p in path.split("/") if p]
    return parts, path.endswith("/")


def _readlink(name: str, dir_fd: int) -> Optional[str]:
    """The target of ``name`` if it is a symlink, else None."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def _check_length(path: str, limits: PathLimits) -> None:
    # Encoded length, as the guest sent it; cheap before any split.
    if len(path) > limits.max_bytes or len(path.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise FsError("name-too-long")


def resolve(base_fd: int, path: str, follow: bool, limits: PathLimits = _DEFAULT_LIMITS) -> Resolved:
    """Resolve ``path`` inside the directory ``base_fd`` (see the module doc). Raises ``FsError``."""
    if "\0" in path:
        raise FsError("invalid")
    _check_length(path, limits)
    if path.startswith("/"):
        raise FsError("not-permitted")
    if path == "":
        raise FsError("no-entry")
    parts, trailing = _components(path)
    if len(parts) > limits.max_components:
        raise FsError("name-too-long")
    queue: deque[str] = deque(parts)
    stack = [base_fd]
    opened: list[int] = []
    expansions = 0
    name = "."
    try:
        while queue:
            comp = queue.popleft()
            last = not queue
            if comp == ".":
                name = "."
                continue
            if comp == "..":
                if len(stack) == 1:
                    raise FsError("not-permitted")
                fd = stack.pop()
                opened.remove(fd)
                os.close(fd)
                name = "."
                continue
            if last and not (follow or trailing):
                name = comp
                break
            target = _readlink(comp, stack[-1])
            if target is not None:
                if target.startswith("/"):
                    raise FsError("not-permitted")
                expansions += 1
                if expansions > MAX_SYMLINK_EXPANSIONS:
                    raise FsError("loop")
                _check_length(target, limits)
                more, more_trailing = _components(target)
                if len(queue) + len(more) > limits.max_components:
                    raise FsError("name-too-long")
                if last:
                    trailing = trailing or more_trailing
                queue.extendleft(reversed(more))
                name = "."
                continue
            if last:
                name = comp
                break
            fd = os.open(comp, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=stack[-1])
            opened.append(fd)
            stack.append(fd)
            name = "."
    except OSError as err:
        _close_all(opened)
        raise FsError(error_code(err)) from None
    except BaseException:
        _close_all(opened)
        raise
    return Resolved(stack[-1], name, opened, trailing and name not in (".", ".."))


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


# ------------------------------------------------------------------ WIT values


def _type_of(mode: int) -> str:
    if st.S_ISDIR(mode):
        return "directory"
    if st.S_ISREG(mode):
        return "regular-file"
    if st.S_ISLNK(mode):
        return "symbolic-link"
    if st.S_ISBLK(mode):
        return "block-device"
    if st.S_ISCHR(mode):
        return "character-device"
    if st.S_ISFIFO(mode):
        return "fifo"
    if st.S_ISSOCK(mode):
        return "socket"
    return "unknown"


def _datetime(ns: int) -> Record:
    seconds, nanos = divmod(ns, 10**9)
    return Record(seconds=seconds & U64, nanoseconds=nanos)


def _stat_value(s: os.stat_result) -> Record:
    return Record(
        **{
            "type": _type_of(s.st_mode),
            "link-count": s.st_nlink,
            "size": s.st_size,
            "data-access-timestamp": _datetime(s.st_atime_ns),
            "data-modification-timestamp": _datetime(s.st_mtime_ns),
            "status-change-timestamp": _datetime(s.st_ctime_ns),
        }
    )


def _hash_value(ctx: WasiCtx, s: os.stat_result) -> Record:
    digest = hashlib.blake2b(
        struct.pack("<QQ", s.st_dev & U64, s.st_ino & U64), digest_size=16, key=ctx.fs.hash_key
    ).digest()
    lower, upper = struct.unpack("<QQ", digest)
    return Record(lower=lower, upper=upper)


# The largest time the host can set (``time_t`` seconds); wasmtime reports ``overflow`` past it.
_MAX_SECONDS = (1 << 63) - 1
# Offsets and sizes are ``off_t`` on the host: the kernel rejects larger ones as EINVAL.
MAX_OFFSET = (1 << 63) - 1


def _timestamp(value: Any, current_ns: int) -> int:
    tag = getattr(value, "tag", None)
    if tag == "now":
        return time.time_ns()
    if tag == "timestamp":
        dt = value.payload
        # Nanoseconds past a second carry into the seconds, as Rust's ``Duration::new`` does.
        carry, nanos = divmod(int(getattr(dt, "nanoseconds", 0)), 10**9)
        seconds = int(dt.seconds) + carry
        if seconds > _MAX_SECONDS:
            raise FsError("overflow")
        return seconds * 10**9 + nanos
    return current_ns


def _offset(value: int) -> int:
    """A guest ``filesize`` used as an ``off_t``: past ``i64`` it is ``invalid``, as the kernel says."""
    if value > MAX_OFFSET:
        raise FsError("invalid")
    return value


# ------------------------------------------------------------------ WIT glue

TYPES = Interface(
    "wasi:filesystem/types",
    resources={
        "descriptor": Res.DESCRIPTOR,
        "directory-entry-stream": Res.DIRECTORY_ENTRY_STREAM,
        "input-stream": Res.INPUT_STREAM,
        "output-stream": Res.OUTPUT_STREAM,
        "error": Res.ERROR,
    },
)
PREOPENS = Interface("wasi:filesystem/preopens", resources={"descriptor": Res.DESCRIPTOR})
INTERFACES = [TYPES, PREOPENS]


def _fs(action: Callable[[], Any]) -> Any:
    """Run ``action``; an ``FsError``/``OSError`` becomes the (untagged) ``err`` value.

    ``OverflowError`` (a guest integer the host's C types cannot hold) and
    ``ValueError`` (a NUL byte) are ``invalid``: the explicit checks catch the
    known cases, this keeps any other one from reaching the embedder.
    """
    try:
        return action()
    except FsError as err:
        return err.code
    except OSError as err:
        return error_code(err)
    except (OverflowError, ValueError):
        # ValueError: a NUL that reached an ``os`` call, as the kernel's EINVAL in wasmtime.
        return "invalid"


def _fs_tagged(action: Callable[[], Any]) -> Variant:
    """Like ``_fs`` for results whose ok and err are both strings (tagged in Python)."""
    result = _fs(lambda: Variant("ok", action()))
    return result if isinstance(result, Variant) else Variant("err", result)


def _desc(ctx: WasiCtx, handle: Any) -> Descriptor:
    return ctx.get(handle, Descriptor)


@PREOPENS.func("get-directories")
def get_directories(ctx: WasiCtx) -> list[tuple[ResourceHost, str]]:
    out = []
    for fd, guest, mutable in ctx.fs.preopens:
        # No dup: the guest's handle shares the context's fd (as wasmtime shares an Arc), so
        # calling this in a loop cannot exhaust host descriptors.
        desc = Descriptor(fd, True, mutable, True, mutable)
        out.append((ctx.own(desc, Res.DESCRIPTOR), guest))
    return out


@TYPES.func("[method]descriptor.read-via-stream")
def read_via_stream(ctx: WasiCtx, self: Any, offset: int) -> Any:
    desc = _desc(ctx, self)
    if desc.is_dir:
        return "is-directory"
    stream = FileInput(desc.fd, offset)
    return ctx.own(desc.adopt(stream), Res.INPUT_STREAM)


def _output_stream(ctx: WasiCtx, self: Any, offset: int, append: bool) -> Any:
    desc = _desc(ctx, self)

    def run() -> ResourceHost:
        fd = desc.file_fd()
        desc.check_mutable()
        stream = FileOutput(fd, offset, append, ctx.config.strict_permits)
        return ctx.own(desc.adopt(stream), Res.OUTPUT_STREAM)

    return _fs(run)


@TYPES.func("[method]descriptor.write-via-stream")
def write_via_stream(ctx: WasiCtx, self: Any, offset: int) -> Any:
    return _output_stream(ctx, self, offset, False)


@TYPES.func("[method]descriptor.append-via-stream")
def append_via_stream(ctx: WasiCtx, self: Any) -> Any:
    return _output_stream(ctx, self, 0, True)


@TYPES.func("[method]descriptor.advise")
def advise(ctx: WasiCtx, self: Any, offset: int, length: int, advice: str) -> Any:
    desc = _desc(ctx, self)

    def run() -> None:
        fd = desc.file_fd()
        fadvise = getattr(os, "posix_fadvise", None)
        if fadvise is None:
            return
        value = {
            "normal": "POSIX_FADV_NORMAL", "sequential": "POSIX_FADV_SEQUENTIAL",
            "random": "POSIX_FADV_RANDOM", "will-need": "POSIX_FADV_WILLNEED",
            "dont-need": "POSIX_FADV_DONTNEED", "no-reuse": "POSIX_FADV_NOREUSE",
        }[advice]  # fmt: skip
        if offset > MAX_OFFSET:
            return  # wasmtime (rustix) ignores advice for a range the kernel cannot name: ok
        fadvise(fd, offset, _offset(length), getattr(os, value))

    return _fs(run)


@TYPES.func("[method]descriptor.sync-data")
def sync_data(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)
    return _fs(lambda: (getattr(os, "fdatasync", os.fsync))(desc.fd))


@TYPES.func("[method]descriptor.sync")
def sync(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)
    return _fs(lambda: os.fsync(desc.fd))


@TYPES.func("[method]descriptor.get-flags")
def get_flags(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)
    flags = set()
    if desc.read:
        flags.add("read")
    if desc.write:
        flags.add("mutate-directory" if desc.is_dir else "write")
    return flags


@TYPES.func("[method]descriptor.get-type")
def get_type(ctx: WasiCtx, self: Any) -> Variant:
    desc = _desc(ctx, self)
    if desc.is_dir:
        return Variant("ok", "directory")
    return _fs_tagged(lambda: _type_of(os.fstat(desc.fd).st_mode))


@TYPES.func("[method]descriptor.set-size")
def set_size(ctx: WasiCtx, self: Any, size: int) -> Any:
    desc = _desc(ctx, self)

    def run() -> None:
        fd = desc.file_fd()
        desc.check_mutable()
        os.ftruncate(fd, _offset(size))

    return _fs(run)


def _utime(ts_a: Any, ts_m: Any, current: Callable[[], os.stat_result], apply: Callable[[tuple[int, int]], None]) -> None:
    need = any(getattr(t, "tag", None) == "no-change" for t in (ts_a, ts_m))
    s = current() if need else None
    a = _timestamp(ts_a, s.st_atime_ns if s else 0)
    m = _timestamp(ts_m, s.st_mtime_ns if s else 0)
    apply((a, m))


@TYPES.func("[method]descriptor.set-times")
def set_times(ctx: WasiCtx, self: Any, atime: Any, mtime: Any) -> Any:
    desc = _desc(ctx, self)

    def run() -> None:
        desc.check_mutable()
        _utime(atime, mtime, lambda: os.fstat(desc.fd), lambda ns: os.utime(desc.fd, ns=ns))

    return _fs(run)


@TYPES.func("[method]descriptor.read")
def read(ctx: WasiCtx, self: Any, length: int, offset: int) -> Any:
    desc = _desc(ctx, self)

    def run() -> tuple[bytes, bool]:
        fd = desc.file_fd()
        data = os.pread(fd, min(length, ctx.config.max_read_size), _offset(offset))
        return data, not data

    return _fs(run)


@TYPES.func("[method]descriptor.write")
def write(ctx: WasiCtx, self: Any, buffer: bytes, offset: int) -> Any:
    desc = _desc(ctx, self)

    def run() -> int:
        fd = desc.file_fd()
        desc.check_mutable()
        return os.pwrite(fd, buffer, _offset(offset))

    return _fs(run)


@TYPES.func("[method]descriptor.read-directory")
def read_directory(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)

    def run() -> ResourceHost:
        fd = os.open(".", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC, dir_fd=desc.dir_fd())
        entries: list[tuple[str, Optional[str]]] = []
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    try:
                        kind = _type_of(entry.stat(follow_symlinks=False).st_mode)
                    except OSError:
                        kind = "unknown"
                    entries.append((entry.name, kind))
        finally:
            os.close(fd)
        entries.sort()
        return ctx.own(DirectoryEntries(entries), Res.DIRECTORY_ENTRY_STREAM)

    return _fs(run)


@TYPES.func("[method]directory-entry-stream.read-directory-entry")
def read_directory_entry(ctx: WasiCtx, self: Any) -> Any:
    stream = ctx.get(self, DirectoryEntries)
    if stream.pos >= len(stream.entries):
        return None
    name, kind = stream.entries[stream.pos]
    stream.pos += 1
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "illegal-byte-sequence"
    return Record(type=kind, name=name)


def _at(ctx: WasiCtx, self: Any, path: str, follow: bool, op: Callable[[Resolved, Descriptor], Any], mutate: bool) -> Any:
    desc = _desc(ctx, self)

    def run() -> Any:
        base = desc.dir_fd()
        if mutate:
            desc.check_mutable()
        with resolve(base, path, follow, ctx.fs.limits) as where:
            return op(where, desc)

    return run


def _follow(flags: Any) -> bool:
    return "symlink-follow" in flags


@TYPES.func("[method]descriptor.create-directory-at")
def create_directory_at(ctx: WasiCtx, self: Any, path: str) -> Any:
    return _fs(_at(ctx, self, path, False, lambda w, d: os.mkdir(w.name, dir_fd=w.dir_fd), True))


@TYPES.func("[method]descriptor.stat")
def stat(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)
    return _fs(lambda: _stat_value(os.fstat(desc.fd)))


def _lstat(where: Resolved) -> os.stat_result:
    """The entry itself; with a trailing ``/``, the directory opened without following."""
    if not where.must_be_dir:
        return where.lstat()
    fd = where.open_dir()
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


@TYPES.func("[method]descriptor.stat-at")
def stat_at(ctx: WasiCtx, self: Any, path_flags: Any, path: str) -> Any:
    return _fs(_at(ctx, self, path, _follow(path_flags), lambda w, d: _stat_value(_lstat(w)), False))


@TYPES.func("[method]descriptor.set-times-at")
def set_times_at(ctx: WasiCtx, self: Any, path_flags: Any, path: str, atime: Any, mtime: Any) -> Any:
    def op(where: Resolved, desc: Descriptor) -> None:
        if where.must_be_dir:
            fd = where.open_dir()
            try:
                _utime(atime, mtime, lambda: os.fstat(fd), lambda ns: os.utime(fd, ns=ns))
            finally:
                os.close(fd)
            return
        _utime(
            atime,
            mtime,
            where.lstat,
            lambda ns: os.utime(where.name, ns=ns, dir_fd=where.dir_fd, follow_symlinks=False),
        )

    return _fs(_at(ctx, self, path, _follow(path_flags), op, True))


@TYPES.func("[method]descriptor.link-at")
def link_at(ctx: WasiCtx, self: Any, old_flags: Any, old_path: str, new_desc: Any, new_path: str) -> Any:
    other = _desc(ctx, new_desc)

    def op(old: Resolved, desc: Descriptor) -> None:
        other.check_mutable()
        if _follow(old_flags):
            raise FsError("invalid")
        # Directories cannot be hard-linked; a trailing slash on a file names no directory.
        if old.must_be_dir:
            old.require_dir()
            raise FsError("not-permitted")
        with resolve(other.dir_fd(), new_path, False, ctx.fs.limits) as new:
            if new.must_be_dir:
                raise FsError("no-entry")
            os.link(old.name, new.name, src_dir_fd=old.dir_fd, dst_dir_fd=new.dir_fd, follow_symlinks=False)

    return _fs(_at(ctx, self, old_path, False, op, True))


_OPEN_SYNC = {"file-integrity-sync", "data-integrity-sync", "requested-write-sync"}


@TYPES.func("[method]descriptor.open-at")
def open_at(ctx: WasiCtx, self: Any, path_flags: Any, path: str, open_flags: Any, flags: Any) -> Any:
    desc = _desc(ctx, self)

    def run() -> ResourceHost:
        base = desc.dir_fd()
        create = "create" in open_flags
        write = create or "truncate" in open_flags or "write" in flags
        read = "read" in flags or "write" not in flags
        if flags & _OPEN_SYNC:
            raise FsError("unsupported")
        directory = "directory" in open_flags
        if directory and (open_flags & {"create", "exclusive", "truncate"}):
            raise FsError("invalid")
        if not desc.mutable and write:
            raise FsError("not-permitted")
        os_flags = _O_CLOEXEC | _O_NOFOLLOW
        if create:
            os_flags |= os.O_CREAT
            if "exclusive" in open_flags:
                os_flags |= os.O_EXCL
        if "truncate" in open_flags:
            os_flags |= os.O_TRUNC
        if directory:
            os_flags |= _O_DIRECTORY
        os_flags |= (os.O_RDWR if read else os.O_WRONLY) if write else os.O_RDONLY
        with resolve(base, path, _follow(path_flags), ctx.fs.limits) as where:
            if where.must_be_dir:
                if create:
                    raise FsError("is-directory")
                os_flags |= _O_DIRECTORY
            if not ctx.descriptors.claim():
                raise FsError("io")  # what wasmtime reports for EMFILE
            try:
                # O_NONBLOCK: opening a FIFO or a device the host left in a preopen must not
                # block the host thread; the descriptor is made blocking again right after.
                fd = os.open(where.name, os_flags | _O_NONBLOCK, 0o666, dir_fd=where.dir_fd)
            except BaseException:
                ctx.descriptors.release()
                raise
        # From here the descriptor owns the fd and its unit: closing it gives both back.
        opened = Descriptor(fd, False, desc.mutable, read, write, ctx.descriptors)
        try:
            opened.is_dir = st.S_ISDIR(os.fstat(fd).st_mode)
            os.set_blocking(fd, True)
            if directory and not opened.is_dir:
                raise FsError("not-directory")
            return ctx.own(opened, Res.DESCRIPTOR)
        except BaseException:
            opened.close()
            raise

    return _fs(run)


@TYPES.func("[method]descriptor.readlink-at")
def readlink_at(ctx: WasiCtx, self: Any, path: str) -> Variant:
    def op(where: Resolved, desc: Descriptor) -> str:
        if where.must_be_dir:
            # The slash made resolution follow the link: what is left is no symlink.
            where.require_dir()
            raise FsError("invalid")
        target = os.readlink(where.name, dir_fd=where.dir_fd)
        if target.startswith("/"):
            raise FsError("not-permitted")
        return target

    return _fs_tagged(_at(ctx, self, path, False, op, False))


@TYPES.func("[method]descriptor.remove-directory-at")
def remove_directory_at(ctx: WasiCtx, self: Any, path: str) -> Any:
    return _fs(_at(ctx, self, path, False, lambda w, d: os.rmdir(w.name, dir_fd=w.dir_fd), True))


@TYPES.func("[method]descriptor.rename-at")
def rename_at(ctx: WasiCtx, self: Any, old_path: str, new_desc: Any, new_path: str) -> Any:
    other = _desc(ctx, new_desc)

    def op(old: Resolved, desc: Descriptor) -> None:
        other.check_mutable()
        with resolve(other.dir_fd(), new_path, False, ctx.fs.limits) as new:
            # With a slash on either side, POSIX renames directories only.
            if old.must_be_dir or new.must_be_dir:
                if not st.S_ISDIR(old.lstat().st_mode):
                    raise FsError("not-directory")
            os.rename(old.name, new.name, src_dir_fd=old.dir_fd, dst_dir_fd=new.dir_fd)

    return _fs(_at(ctx, self, old_path, False, op, True))


@TYPES.func("[method]descriptor.symlink-at")
def symlink_at(ctx: WasiCtx, self: Any, old_path: str, new_path: str) -> Any:
    def op(where: Resolved, desc: Descriptor) -> None:
        if old_path.startswith("/"):
            raise FsError("not-permitted")
        if "\0" in old_path:
            raise FsError("invalid")
        _check_length(old_path, ctx.fs.limits)
        if where.must_be_dir:
            where.lstat()  # an existing entry is `exist` below; a missing one cannot be a directory
            raise FsError("exist")
        os.symlink(old_path, where.name, dir_fd=where.dir_fd)

    return _fs(_at(ctx, self, new_path, False, op, True))


@TYPES.func("[method]descriptor.unlink-file-at")
def unlink_file_at(ctx: WasiCtx, self: Any, path: str) -> Any:
    def op(where: Resolved, desc: Descriptor) -> None:
        if where.must_be_dir:
            # unlink("x/"): a directory is `is-directory`, anything else `not-directory`; never removed.
            where.require_dir()
            raise FsError("is-directory")
        os.unlink(where.name, dir_fd=where.dir_fd)

    return _fs(_at(ctx, self, path, False, op, True))


@TYPES.func("[method]descriptor.is-same-object")
def is_same_object(ctx: WasiCtx, self: Any, other: Any) -> bool:
    a = os.fstat(_desc(ctx, self).fd)
    b = os.fstat(_desc(ctx, other).fd)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


@TYPES.func("[method]descriptor.metadata-hash")
def metadata_hash(ctx: WasiCtx, self: Any) -> Any:
    desc = _desc(ctx, self)
    return _fs(lambda: _hash_value(ctx, os.fstat(desc.fd)))


@TYPES.func("[method]descriptor.metadata-hash-at")
def metadata_hash_at(ctx: WasiCtx, self: Any, path_flags: Any, path: str) -> Any:
    return _fs(_at(ctx, self, path, _follow(path_flags), lambda w, d: _hash_value(ctx, _lstat(w)), False))


@TYPES.func("filesystem-error-code")
def filesystem_error_code(ctx: WasiCtx, err: Any) -> Optional[str]:
    return ctx.get(err, IoError).fs_code
