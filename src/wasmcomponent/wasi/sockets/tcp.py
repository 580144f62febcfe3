"""``wasi:sockets/tcp`` and ``tcp-create-socket`` on non-blocking host sockets.

A :class:`TcpSocket` walks wasmtime's state machine: ``default`` (maybe
bound) -> ``connecting`` -> ``connected``, or ``default`` -> ``listening``;
a failed connect leaves it ``closed`` with the error.  ``start-*`` calls do
the work synchronously (connect only begins it); ``finish-*`` report
``not-in-progress`` without a matching start, and ``finish-connect``
reports ``would-block`` until the host connect completes.  A connected
socket hands out one :class:`TcpInput` and one :class:`TcpOutput`, children
of the socket resource (dropping the socket first traps).

Readiness for ``subscribe``: a connecting socket is polled (it has no file
descriptor to wait on for reading), a listening one waits on its descriptor.

Under asyncio (``wasi.aio``) the streams' blocking calls and ``shutdown``'s
flush of what is pending wait on the loop.  Dropping an output stream with
bytes still pending waits for them in the thread, at most
:data:`DROP_FLUSH_TIMEOUT` (a resource destructor cannot wait on the loop).
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Optional

from ..ctx import DescriptorBudget, Interface, Res
from ..io import (
    InputStream,
    OutputStream,
    Pollable,
    Steps,
    StreamClosed,
    StreamFailed,
    blocking,
    flush_steps,
)
from .network import (
    HostSocket,
    SocketError,
    SocketIoError,
    bind_socket,
    claim_descriptor,
    error_code,
    from_host,
    from_wit,
    get_buffer_size,
    get_hop_limit,
    open_socket,
    readable,
    set_buffer_size,
    set_hop_limit,
    socket_call,
    unspecified,
    valid_family,
    valid_remote,
    valid_unicast,
    writable,
)

if TYPE_CHECKING:
    from ..ctx import WasiCtx

DEFAULT_BACKLOG = 128
MAX_BACKLOG = (1 << 31) - 1
WRITE_PERMIT = 64 << 10
NS = 1_000_000_000
DROP_FLUSH_TIMEOUT = 1.0  # seconds a dropped output stream waits to send what is pending
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY)
# Linux reports errors pending on an accepted connection from accept(); BSDs do not.
_ACCEPT_ABORTED = {
    errno.ECONNRESET,
    errno.ENETRESET,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.ENETUNREACH,
    errno.EPROTO,
    errno.ENOPROTOOPT,
    errno.EOPNOTSUPP,
    getattr(errno, "ENONET", errno.ENETDOWN),
}
_KEEPIDLE = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))


class TcpSocket(HostSocket):
    """One ``tcp-socket``: host socket, WASI state, and the operation started but not finished."""

    __slots__ = ("family", "state", "error", "op", "connect_result", "backlog", "bound", "reader", "writer")

    def __init__(
        self,
        sock: socket.socket,
        family: str,
        state: str = "default",
        budget: Optional[DescriptorBudget] = None,
    ) -> None:
        super().__init__(sock, budget)
        self.family = family
        self.state = state  # default | connecting | listening | connected | closed
        self.error = "unknown"  # the error a closed socket reports
        self.op: Optional[str] = None  # bind | connect | listen, between start-* and finish-*
        self.connect_result: Optional[str] = None  # "" success, an error code, None pending
        self.backlog = DEFAULT_BACKLOG
        self.bound = state != "default"
        self.reader: Optional[TcpInput] = None
        self.writer: Optional[TcpOutput] = None

    def is_bound(self) -> bool:
        if not self.bound:
            if self.state != "default":
                self.bound = True
            else:
                try:
                    self.bound = from_host(self.sock.getsockname()) != unspecified(self.family)
                except (OSError, ValueError):
                    self.bound = False
        return self.bound

    def usable(self) -> socket.socket:
        """The host socket for option calls (not while connecting, not once closed)."""
        if self.state == "connecting":
            raise SocketError("invalid-state")
        if self.state == "closed":
            raise SocketError(self.error)
        return self.sock

    def poll_connect(self) -> Optional[str]:
        """Advance a pending connect: ``None`` while in progress, ``""`` connected, else the error."""
        if self.state == "connected":
            return ""
        if self.state == "closed":
            return self.error
        if self.state != "connecting":
            return "invalid-state"
        result = self.connect_result
        if result is None:
            if not writable(self.sock):
                return None
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            result = error_code(OSError(err, "connect")) if err else ""
        if result:
            self.state, self.error = "closed", result
        else:
            self.state = "connected"
        return result

    def ready(self) -> bool:
        if self.op == "connect":
            return self.state != "connecting" or self.connect_result is not None or writable(self.sock)
        if self.state == "listening" and self.op is None:
            return readable(self.sock)
        return True

    def take_streams(self, ctx: WasiCtx) -> tuple[Any, Any]:
        if self.state != "connected" or self.reader is not None:
            raise SocketError(self.error if self.state == "closed" else "invalid-state")
        self.reader = TcpInput(self)
        self.writer = TcpOutput(self, ctx.config.strict_permits)
        return (
            ctx.own(self.adopt(self.reader), Res.INPUT_STREAM),
            ctx.own(self.adopt(self.writer), Res.OUTPUT_STREAM),
        )


class TcpInput(InputStream):
    """The receive half of a connected socket; ``read`` never blocks."""

    __slots__ = ("owner", "closed")

    def __init__(self, owner: TcpSocket) -> None:
        super().__init__()
        self.owner = owner
        self.closed = False

    def read(self, size: int) -> bytes:
        if self.closed:
            raise StreamClosed
        if size == 0:
            return b""
        try:
            data = self.owner.sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as err:
            self.closed = True
            raise StreamFailed(SocketIoError(str(err), error_code(err))) from None
        if not data:
            self.closed = True
            raise StreamClosed
        return data

    def ready(self) -> bool:
        return self.closed or readable(self.owner.sock)

    def fileno(self) -> Optional[int]:
        return None if self.closed else self.owner.sock.fileno()

    def shutdown(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.owner.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def close(self) -> None:
        self.shutdown()


class TcpOutput(OutputStream):
    """The send half: bytes the kernel does not take yet wait in ``pending``.

    ``check-write`` grants :data:`WRITE_PERMIT` bytes once nothing is pending;
    ``flush`` hands the kernel what it takes now (the rest stays pending, and
    ``check-write`` grants 0 until ``ready``); ``blocking-flush`` waits until
    the kernel took everything.
    """

    __slots__ = ("owner", "pending", "closed")

    def __init__(self, owner: TcpSocket, strict: bool) -> None:
        super().__init__(strict)
        self.owner = owner
        self.pending = bytearray()
        self.closed = False

    def _drain(self) -> None:
        pending = self.pending
        while pending:
            try:
                sent = self.owner.sock.send(pending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                pending.clear()
                self.closed = True
                if err.errno == errno.EPIPE:
                    raise StreamClosed from None
                raise StreamFailed(SocketIoError(str(err), error_code(err))) from None
            del pending[:sent]

    def _open(self) -> None:
        if self.closed:
            raise StreamClosed

    def check_write(self) -> int:
        self._open()
        self._drain()
        self.permit = 0 if self.pending else WRITE_PERMIT
        return self.permit

    def emit(self, data: bytes) -> None:
        self._open()
        self.pending += data
        self._drain()

    def flush(self) -> None:
        """Hand the kernel what it takes without waiting."""
        self._open()
        self._drain()

    def blocking_flush(self, timeout: Optional[float] = None) -> None:
        """Wait until the kernel took every pending byte (at most ``timeout`` seconds)."""
        self._open()
        self._drain()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                select.select([], [self.owner.sock], [], left)
            except (OSError, ValueError):
                pass
            self._drain()

    def flush_wait(self) -> Optional[Pollable]:
        self._open()
        self._drain()
        # ready when the kernel took everything: woken when the socket is writable
        return Pollable(self.ready, wfileno=self.owner.sock.fileno()) if self.pending else None

    def ready(self) -> bool:
        if self.closed:
            return True
        try:
            self._drain()
        except (StreamClosed, StreamFailed):
            return True
        return not self.pending

    def shutdown(self, timeout: Optional[float] = None) -> None:
        """Send what is pending (waiting at most ``timeout`` seconds), then shut the send side."""
        if self.closed:
            return
        try:
            self.blocking_flush(timeout)
        except (StreamClosed, StreamFailed):
            pass
        self.shut()

    def shutdown_steps(self, ctx: WasiCtx) -> Steps[None]:
        """:meth:`shutdown` (no timeout) under asyncio: the flush waits on the loop."""
        if self.closed:
            return
        try:
            yield from flush_steps(ctx, self, True)
        except (StreamClosed, StreamFailed):
            pass
        self.shut()

    def shut(self) -> None:
        """Shut the send side now (what is still pending is lost)."""
        self.closed = True
        try:
            self.owner.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.shutdown(DROP_FLUSH_TIMEOUT)


# ------------------------------------------------------------------ WIT glue

TCP = Interface(
    "wasi:sockets/tcp",
    resources={
        "tcp-socket": Res.TCP_SOCKET,
        "network": Res.NETWORK,
        "input-stream": Res.INPUT_STREAM,
        "output-stream": Res.OUTPUT_STREAM,
        "pollable": Res.POLLABLE,
    },
)
TCP_CREATE = Interface(
    "wasi:sockets/tcp-create-socket", resources={"tcp-socket": Res.TCP_SOCKET, "network": Res.NETWORK}
)


def _method(name: str) -> Any:
    return TCP.func(f"[method]tcp-socket.{name}")


def _network(ctx: WasiCtx, network: Any) -> None:
    from .network import Network

    ctx.get(network, Network)


@TCP_CREATE.func("create-tcp-socket")
def create_tcp_socket(ctx: WasiCtx, family: str) -> Any:
    if not ctx.sockets.tcp:
        return "access-denied"

    def make(sock: socket.socket, budget: DescriptorBudget) -> Any:
        return ctx.own(TcpSocket(sock, family, budget=budget), Res.TCP_SOCKET)

    return socket_call(lambda: open_socket(ctx, family, socket.SOCK_STREAM, make))


@_method("start-bind")
def start_bind(ctx: WasiCtx, self: Any, network: Any, local: Any) -> Optional[str]:
    _network(ctx, network)
    sock = ctx.get(self, TcpSocket)
    addr = from_wit(local)

    def run() -> None:
        if sock.op is not None:
            raise SocketError("concurrency-conflict")
        if sock.is_bound() or sock.state != "default":
            raise SocketError("invalid-state")
        if not valid_unicast(addr) or not valid_family(addr, sock.family):
            raise SocketError("invalid-argument")
        ctx.sockets.check(addr, "tcp-bind")
        bind_socket(sock.sock, addr, reuse=True)
        sock.bound = True
        sock.op = "bind"

    return socket_call(run)


def _finish(ctx: WasiCtx, self: Any, op: str) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)
    if sock.op != op:
        return "not-in-progress"
    sock.op = None
    return None


@_method("finish-bind")
def finish_bind(ctx: WasiCtx, self: Any) -> Optional[str]:
    return _finish(ctx, self, "bind")


@_method("start-connect")
def start_connect(ctx: WasiCtx, self: Any, network: Any, remote: Any) -> Optional[str]:
    _network(ctx, network)
    sock = ctx.get(self, TcpSocket)
    addr = from_wit(remote)

    def run() -> None:
        if sock.op is not None:
            raise SocketError("concurrency-conflict")
        if sock.state != "default":
            raise SocketError("invalid-state")
        if not valid_unicast(addr) or not valid_remote(addr) or not valid_family(addr, sock.family):
            raise SocketError("invalid-argument")
        already_bound = sock.is_bound()
        sock.state, sock.op, sock.connect_result = "connecting", "connect", None
        # as wasmtime: policy failures surface from finish-connect
        try:
            if not already_bound:
                ctx.sockets.check(unspecified(sock.family), "tcp-bind")
            ctx.sockets.check(addr, "tcp-connect")
        except SocketError as err:
            sock.connect_result = err.code
            return
        try:
            code = sock.sock.connect_ex(addr.to_host())
        except OSError as err:
            sock.connect_result = error_code(err)
            return
        if code not in _IN_PROGRESS:
            sock.connect_result = error_code(OSError(code, "connect")) if code else ""

    return socket_call(run)


@_method("finish-connect")
def finish_connect(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)

    def run() -> Any:
        if sock.op != "connect":
            raise SocketError("not-in-progress")
        result = sock.poll_connect()
        if result is None:
            raise SocketError("would-block")
        sock.op = None
        if result:
            raise SocketError(result)
        return sock.take_streams(ctx)

    return socket_call(run)


@_method("start-listen")
def start_listen(ctx: WasiCtx, self: Any) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)

    def run() -> None:
        if sock.op is not None:
            raise SocketError("concurrency-conflict")
        if not sock.is_bound() or sock.state != "default":
            raise SocketError("invalid-state")
        ctx.sockets.check(from_host(sock.sock.getsockname()), "tcp-listen")
        sock.sock.listen(sock.backlog)
        sock.state, sock.op = "listening", "listen"

    return socket_call(run)


@_method("finish-listen")
def finish_listen(ctx: WasiCtx, self: Any) -> Optional[str]:
    return _finish(ctx, self, "listen")


def _reset(conn: socket.socket) -> None:
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


@_method("accept")
def accept(ctx: WasiCtx, self: Any) -> Any:
    listener = ctx.get(self, TcpSocket)

    def run() -> Any:
        if listener.state != "listening":
            raise SocketError("invalid-state")
        # the accepted connection's budget unit, claimed first: past the limit the pending
        # connection stays queued and the guest gets ``new-socket-limit``
        budget = claim_descriptor(ctx)
        try:
            conn = _accept(ctx, listener)
        except BaseException:
            budget.release()
            raise
        client = TcpSocket(conn, listener.family, "connected", budget)
        try:
            handle = ctx.own(client, Res.TCP_SOCKET)
        except BaseException:
            client.close()
            raise
        rx, tx = client.take_streams(ctx)
        return (handle, rx, tx)

    return socket_call(run)


def _accept(ctx: WasiCtx, listener: TcpSocket) -> socket.socket:
    """The next pending connection the address check allows (others are reset), non-blocking."""
    while True:
        try:
            conn, peer = listener.sock.accept()
        except (BlockingIOError, InterruptedError):
            raise SocketError("would-block") from None
        except OSError as err:
            if sys.platform.startswith("linux") and err.errno in _ACCEPT_ABORTED:
                raise SocketError("connection-aborted") from None
            raise
        try:
            ctx.sockets.check(from_host(peer), "tcp-accept")
        except SocketError:
            _reset(conn)
            continue
        conn.setblocking(False)
        return conn


@_method("local-address")
def local_address(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)

    def run() -> Any:
        if not sock.is_bound():
            raise SocketError("invalid-state")
        return from_host(sock.usable().getsockname()).to_wit()

    return socket_call(run)


@_method("remote-address")
def remote_address(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)

    def run() -> Any:
        if sock.state == "closed":
            raise SocketError(sock.error)
        if sock.state != "connected":
            raise SocketError("invalid-state")
        return from_host(sock.sock.getpeername()).to_wit()

    return socket_call(run)


@_method("is-listening")
def is_listening(ctx: WasiCtx, self: Any) -> bool:
    return ctx.get(self, TcpSocket).state == "listening"


@_method("address-family")
def address_family(ctx: WasiCtx, self: Any) -> str:
    return ctx.get(self, TcpSocket).family


@_method("set-listen-backlog-size")
def set_listen_backlog_size(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)

    def run() -> None:
        if value == 0:
            raise SocketError("invalid-argument")
        backlog = min(max(value, 1), MAX_BACKLOG)
        if sock.state == "default":
            sock.backlog = backlog
        elif sock.state == "listening":
            try:
                sock.sock.listen(backlog)
            except OSError:
                raise SocketError("not-supported") from None
            sock.backlog = backlog
        elif sock.state == "closed":
            raise SocketError(sock.error)
        else:
            raise SocketError("invalid-state")

    return socket_call(run)


def _option(name: str, level: int, option: Optional[int], scale: int = 1) -> None:
    """Register the getter ``name`` of an integer socket option (``scale`` turns host units into WIT units)."""

    def getter(ctx: WasiCtx, self: Any) -> Any:
        sock = ctx.get(self, TcpSocket)

        def run() -> int:
            if option is None:
                raise SocketError("not-supported")
            return sock.usable().getsockopt(level, option) * scale

        return socket_call(run)

    TCP.funcs[f"[method]tcp-socket.{name}"] = getter


def _setter(name: str, level: int, option: Optional[int], low: int, high: int, scale: int = 1) -> None:
    """Register ``set-<name>``: 0 is ``invalid-argument``, other values are clamped to ``[low, high]``."""

    def setter(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
        sock = ctx.get(self, TcpSocket)

        def run() -> None:
            if value == 0:
                raise SocketError("invalid-argument")
            target = sock.usable()
            if option is None:
                raise SocketError("not-supported")
            target.setsockopt(level, option, min(max(value, low), high) // scale)

        return socket_call(run)

    TCP.funcs[f"[method]tcp-socket.set-{name}"] = setter


_TCP = socket.IPPROTO_TCP
_option("keep-alive-idle-time", _TCP, _KEEPIDLE, NS)
_setter("keep-alive-idle-time", _TCP, _KEEPIDLE, NS, 32767 * NS, NS)
_option("keep-alive-interval", _TCP, getattr(socket, "TCP_KEEPINTVL", None), NS)
_setter("keep-alive-interval", _TCP, getattr(socket, "TCP_KEEPINTVL", None), NS, 32767 * NS, NS)
_option("keep-alive-count", _TCP, getattr(socket, "TCP_KEEPCNT", None))
_setter("keep-alive-count", _TCP, getattr(socket, "TCP_KEEPCNT", None), 1, 127)


@_method("keep-alive-enabled")
def keep_alive_enabled(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: bool(sock.usable().getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)))


@_method("set-keep-alive-enabled")
def set_keep_alive_enabled(ctx: WasiCtx, self: Any, value: bool) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: sock.usable().setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(value)))


@_method("hop-limit")
def hop_limit(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: get_hop_limit(sock.usable(), sock.family))


@_method("set-hop-limit")
def set_tcp_hop_limit(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: set_hop_limit(sock.usable(), sock.family, value))


@_method("receive-buffer-size")
def receive_buffer_size(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: get_buffer_size(sock.usable(), socket.SO_RCVBUF))


@_method("set-receive-buffer-size")
def set_receive_buffer_size(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: set_buffer_size(sock.usable(), socket.SO_RCVBUF, value))


@_method("send-buffer-size")
def send_buffer_size(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: get_buffer_size(sock.usable(), socket.SO_SNDBUF))


@_method("set-send-buffer-size")
def set_send_buffer_size(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, TcpSocket)
    return socket_call(lambda: set_buffer_size(sock.usable(), socket.SO_SNDBUF, value))


@_method("subscribe")
def subscribe(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, TcpSocket)
    fileno = sock.sock.fileno() if sock.state == "listening" else None
    return ctx.own(sock.adopt(Pollable(sock.ready, None, fileno)), Res.POLLABLE)


@blocking(TCP, "[method]tcp-socket.shutdown")
def shutdown(ctx: WasiCtx, self: Any, how: str, off_loop: bool) -> Steps[Optional[str]]:
    sock = ctx.get(self, TcpSocket)
    reader, writer = sock.reader, sock.writer
    if reader is None or writer is None:
        return "invalid-state"
    if how in ("receive", "both"):
        reader.shutdown()
    if how in ("send", "both"):
        # sending what is pending first, which waits for the peer (on the loop under asyncio)
        if off_loop:
            yield from writer.shutdown_steps(ctx)
        else:
            writer.shutdown()
    return None


__all__ = ["TCP", "TCP_CREATE", "TcpInput", "TcpOutput", "TcpSocket", "create_tcp_socket"]
