"""``WasiConfig``: wasmtime-py 50's WASI options, readable from Python, plus extras.

It subclasses ``wasmtime.WasiConfig`` and forwards every wasmtime option to
the native object too, so the same configuration works for core preview1
modules.  The recorded settings are plain attributes that the WASI host reads
when it builds a store's context.

Attaching to a store (either line works):

    wasmcomponent.wasi.set_wasi(store, cfg)
    store.set_wasi(cfg)          # cfg must be a wasmcomponent.wasi.WasiConfig

Defaults deny everything, as wasmtime: no args or env, stdin closed,
stdout/stderr discarded, no preopens, no network.  Extras: output to a
callable or a buffer (``stdout_buffer()``), stdin from bytes or a file-like
object, read-only preopens (``fs_mutable=False``), injectable clocks and
random, ``deterministic()`` mode, a network policy, and an HTTP policy
(``allow_outgoing_http()``, ``http_send`` hook, ``http_forbidden_headers``,
``http_field_size_limit``).

    >>> cfg = WasiConfig()
    >>> cfg.argv = ["app", "x"]
    >>> cfg.env = {"A": "1"}
    >>> cfg.argv, cfg.env
    (['app', 'x'], [('A', '1')])
    >>> out = cfg.stdout_buffer()
    >>> cfg.stdout
    ('buffer', bytearray(b''))
"""

from __future__ import annotations

import os
import random as _random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Union

import wasmtime

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
# ("closed",) | ("inherit",) | ("file", path) | ("bytes", data) | ("reader", file-like) |
# ("discard",) | ("custom", callback) | ("buffer", bytearray) | ("writer", file-like)
StdioSpec = tuple[Any, ...]

_NATIVE: Any = wasmtime.WasiConfig  # its setters are write-only properties


@dataclass(frozen=True)
class Preopen:
    """A host directory made visible to the guest as ``guest_path``."""

    host_path: str
    guest_path: str
    mutable: bool


def _http_forbidden_default() -> frozenset[str]:
    from .http.fields import DEFAULT_FORBIDDEN_HEADERS

    return DEFAULT_FORBIDDEN_HEADERS


def _fspath(path: PathLike) -> str:
    raw = os.fspath(path)
    return os.fsdecode(raw)


class WasiConfig(_NATIVE):  # type: ignore[misc]
    """WASI options for a store (wasmtime-py 50 names), readable back from Python."""

    def __init__(self) -> None:
        super().__init__()
        self._argv: list[str] = []
        self._env: list[tuple[str, str]] = []
        self.initial_cwd: Optional[str] = None
        self.stdin: StdioSpec = ("closed",)
        self.stdout: StdioSpec = ("discard",)
        self.stderr: StdioSpec = ("discard",)
        self.terminals: dict[str, Optional[bool]] = {"stdin": None, "stdout": None, "stderr": None}
        self.preopens: list[Preopen] = []
        # clocks: callables returning nanoseconds; None = the host's
        self.wall_clock: Optional[Callable[[], int]] = None
        self.monotonic_clock: Optional[Callable[[], int]] = None
        self.virtual_clock_epoch_ns: Optional[int] = None
        # random
        self.secure_random: Optional[Callable[[int], bytes]] = None
        self.insecure_random: Optional[_random.Random] = None
        self.insecure_random_seed: Optional[int] = None
        self.max_random_size = 64 << 20
        # network policy
        self.tcp_allowed = False
        self.udp_allowed = False
        self.ip_name_lookup_allowed = False
        # socket_addr_check((ip, port), use) -> bool, consulted before every bind, connect,
        # listen, accept, send and receive (``use``: "tcp-bind", "tcp-connect", "tcp-listen",
        # "tcp-accept", "udp-bind", "udp-send", "udp-receive"); False is ``access-denied``.
        # None allows every address (wasmtime's ``socket_addr_check``).
        self.socket_addr_check: Optional[Callable[[tuple[str, int], str], bool]] = None
        # HTTP (wasi:http/outgoing-handler): denied unless allowed or a send hook is installed.
        # http_send(HttpRequest) -> HttpResponse answers outgoing requests in Python instead of
        # the network (see wasmcomponent.wasi.http.client).
        self.http_outgoing_allowed = False
        self.http_send: Optional[Callable[[Any], Any]] = None
        self.http_forbidden_headers: frozenset[str] = _http_forbidden_default()
        self.http_field_size_limit = 128 * 1024
        self.http_default_timeout_ns = 600 * 10**9
        # limits (per store; see the README's WASI threat model)
        self.max_resources = 1 << 20
        self.max_read_size = 64 << 10
        self.strict_permits = True
        # Host file descriptors (files, directories, sockets, HTTP connections) that the guest
        # may hold open at once; past it, opening fails with the WASI code for "too many files".
        self.max_host_descriptors = 256
        # Bytes that stdout_buffer()/stderr_buffer() may collect; a write past it traps.
        self.max_buffer_bytes = 64 << 20
        # Paths given to the filesystem: UTF-8 bytes and components ("name-too-long" past them).
        self.max_path_bytes = 4096
        self.max_path_components = 256
        # Bytes of one HTTP body that the host keeps in memory (outgoing or incoming).
        self.max_http_body_bytes = 64 << 20

    # -------------------------------------------------------- args and env

    @property
    def argv(self) -> list[str]:
        """The guest's arguments (``get-arguments``); settable as in wasmtime-py."""
        return list(self._argv)

    @argv.setter
    def argv(self, argv: Iterable[str]) -> None:
        values = list(argv)
        if not all(isinstance(a, str) for a in values):
            raise TypeError("expected a list of str")
        _NATIVE.argv.fset(self, values)
        self._argv = values

    def inherit_argv(self) -> None:
        """Use the host process's arguments."""
        _NATIVE.inherit_argv(self)
        self._argv = list(sys.argv)

    @property
    def env(self) -> list[tuple[str, str]]:
        """Environment variables as ``(name, value)`` pairs; set from pairs or a mapping."""
        return list(self._env)

    @env.setter
    def env(self, pairs: Union[Iterable[Iterable[str]], Mapping[str, str]]) -> None:
        items = list(pairs.items()) if isinstance(pairs, Mapping) else [tuple(p) for p in pairs]
        out: list[tuple[str, str]] = []
        for item in items:
            if len(item) != 2 or not all(isinstance(x, str) for x in item):
                raise TypeError("expected (str, str) pairs")
            out.append((item[0], item[1]))
        _NATIVE.env.fset(self, out)
        self._env = out

    def inherit_env(self) -> None:
        """Use the host process's environment."""
        _NATIVE.inherit_env(self)
        self._env = list(os.environ.items())

    # -------------------------------------------------------- stdio

    def _set_stdin_file(self, path: PathLike) -> None:
        _NATIVE.stdin_file.fset(self, path)
        self.stdin = ("file", _fspath(path))

    stdin_file = property(fset=_set_stdin_file, doc="Read stdin from the file at this path.")

    def inherit_stdin(self) -> None:
        """Read stdin from the host process's stdin (only when the guest reads)."""
        _NATIVE.inherit_stdin(self)
        self.stdin = ("inherit",)

    def stdin_bytes(self, data: Union[bytes, bytearray, memoryview, str]) -> None:
        """Serve ``data`` as stdin, then end of stream."""
        self.stdin = ("bytes", data.encode() if isinstance(data, str) else bytes(data))

    def stdin_reader(self, reader: Any) -> None:
        """Serve stdin from a binary file-like object (its ``read(n)``)."""
        if not callable(getattr(reader, "read", None)):
            raise TypeError("expected an object with a read(n) method")
        self.stdin = ("reader", reader)

    def _set_stdout_file(self, path: PathLike) -> None:
        _NATIVE.stdout_file.fset(self, path)
        self.stdout = ("file", _fspath(path))

    stdout_file = property(fset=_set_stdout_file, doc="Write stdout to the file at this path (truncated).")

    def _set_stdout_custom(self, callback: Callable[[bytes], Optional[int]]) -> None:
        if not callable(callback):
            raise TypeError("expected a callable")
        _NATIVE.stdout_custom.fset(self, callback)
        self.stdout = ("custom", callback)

    stdout_custom = property(
        fset=_set_stdout_custom, doc="Pass every chunk the guest writes to stdout to ``callback(bytes)``."
    )

    def inherit_stdout(self) -> None:
        """Write stdout to the host's ``sys.stdout`` (looked up at each write)."""
        _NATIVE.inherit_stdout(self)
        self.stdout = ("inherit",)

    def stdout_buffer(self) -> bytearray:
        """Collect stdout into the returned ``bytearray``."""
        buffer = bytearray()
        self.stdout = ("buffer", buffer)
        return buffer

    def stdout_writer(self, writer: Any) -> None:
        """Write stdout to a binary file-like object."""
        self.stdout = ("writer", writer)

    def _set_stderr_file(self, path: PathLike) -> None:
        _NATIVE.stderr_file.fset(self, path)
        self.stderr = ("file", _fspath(path))

    stderr_file = property(fset=_set_stderr_file, doc="Write stderr to the file at this path (truncated).")

    def _set_stderr_custom(self, callback: Callable[[bytes], Optional[int]]) -> None:
        if not callable(callback):
            raise TypeError("expected a callable")
        _NATIVE.stderr_custom.fset(self, callback)
        self.stderr = ("custom", callback)

    stderr_custom = property(
        fset=_set_stderr_custom, doc="Pass every chunk the guest writes to stderr to ``callback(bytes)``."
    )

    def inherit_stderr(self) -> None:
        """Write stderr to the host's ``sys.stderr`` (looked up at each write)."""
        _NATIVE.inherit_stderr(self)
        self.stderr = ("inherit",)

    def stderr_buffer(self) -> bytearray:
        """Collect stderr into the returned ``bytearray``."""
        buffer = bytearray()
        self.stderr = ("buffer", buffer)
        return buffer

    def stderr_writer(self, writer: Any) -> None:
        """Write stderr to a binary file-like object."""
        self.stderr = ("writer", writer)

    def terminal(
        self, stdin: Optional[bool] = None, stdout: Optional[bool] = None, stderr: Optional[bool] = None
    ) -> None:
        """Force whether ``get-terminal-*`` reports a terminal (None: inherited streams' ``isatty``)."""
        self.terminals = {"stdin": stdin, "stdout": stdout, "stderr": stderr}

    # -------------------------------------------------------- filesystem

    def preopen_dir(
        self, path: PathLike, guest_path: str, fs_mutable: bool = True, *, read_only: Optional[bool] = None
    ) -> None:
        """Expose host directory ``path`` as ``guest_path``; ``fs_mutable=False`` makes it read-only."""
        if read_only is not None:
            fs_mutable = not read_only
        host = _fspath(path)
        if not os.path.isdir(host):
            raise wasmtime.WasmtimeError(f"failed to open directory `{host}`")
        _NATIVE.preopen_dir(self, host, guest_path, fs_mutable)
        self.preopens.append(Preopen(host, guest_path, bool(fs_mutable)))

    # -------------------------------------------------------- clocks and random

    def virtual_clocks(self, epoch_ns: int = 1_700_000_000 * 10**9) -> None:
        """Monotonic time starts at 0 and moves only when the guest sleeps; wall = epoch + it."""
        self.virtual_clock_epoch_ns = epoch_ns

    def deterministic(self, seed: int = 0, epoch_ns: int = 1_700_000_000 * 10**9) -> None:
        """Virtual clocks and seeded generators for all three random interfaces (tests only)."""
        self.virtual_clocks(epoch_ns)
        secure = _random.Random(seed)
        self.secure_random = secure.randbytes
        self.insecure_random = _random.Random(seed + 1)
        self.insecure_random_seed = _random.Random(seed + 2).getrandbits(128)

    # -------------------------------------------------------- network

    def allow_tcp(self, allow: bool = True) -> None:
        """Let the guest create TCP sockets."""
        self.tcp_allowed = bool(allow)

    def allow_udp(self, allow: bool = True) -> None:
        """Let the guest create UDP sockets."""
        self.udp_allowed = bool(allow)

    def allow_ip_name_lookup(self, allow: bool = True) -> None:
        """Let the guest resolve host names."""
        self.ip_name_lookup_allowed = bool(allow)

    def inherit_network(self) -> None:
        """Allow TCP, UDP and name lookup to every address (clears ``socket_addr_check``)."""
        self.allow_tcp()
        self.allow_udp()
        self.allow_ip_name_lookup()
        self.socket_addr_check = None

    # -------------------------------------------------------- http

    def allow_outgoing_http(self, allow: bool = True) -> None:
        """Let the guest send HTTP requests (``wasi:http/outgoing-handler``) with ``http.client``."""
        self.http_outgoing_allowed = bool(allow)
