"""``wasi:sockets/udp`` and ``udp-create-socket`` on non-blocking host sockets.

A :class:`UdpSocket` must be bound (``start-bind``/``finish-bind``) before
``stream`` hands out its datagram streams, which are children of the socket.
``stream(some(addr))`` connects the host socket (only datagrams from ``addr``
arrive, and sends go there); ``stream(none)`` on a connected socket
disconnects it.  Calling ``stream`` while earlier streams live traps, as in
wasmtime.  ``check-send`` grants :data:`MAX_DATAGRAMS` datagrams while the
socket is writable; sending more than granted traps.
"""

from __future__ import annotations

import ctypes
import errno
import socket
from typing import TYPE_CHECKING, Any, Optional

from ...types.values import Record
from ..ctx import DescriptorBudget, HostObject, Interface, Res, trap
from ..io import Pollable
from .network import (
    HostSocket,
    Network,
    SockAddr,
    SocketError,
    bind_socket,
    code_of,
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
    writable,
)

if TYPE_CHECKING:
    from ..ctx import WasiCtx

MAX_DATAGRAMS = 16
MAX_DATAGRAM_SIZE = 65535


class UdpSocket(HostSocket):
    """One ``udp-socket``: host socket, the connected peer, and how many datagram streams live."""

    __slots__ = ("family", "op", "bound", "remote", "streams")

    def __init__(self, sock: socket.socket, family: str, budget: Optional[DescriptorBudget] = None) -> None:
        super().__init__(sock, budget)
        self.family = family
        self.op: Optional[str] = None
        self.bound = False
        self.remote: Optional[SockAddr] = None
        self.streams = 0

    def is_bound(self) -> bool:
        if not self.bound:
            try:
                self.bound = from_host(self.sock.getsockname()) != unspecified(self.family)
            except (OSError, ValueError):
                self.bound = False
        return self.bound


def _disconnect(sock: socket.socket) -> None:
    """Dissolve a UDP association: ``connect`` to an ``AF_UNSPEC`` address (not in Python's API)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        connect = libc.connect
    except (OSError, AttributeError):
        raise SocketError("not-supported") from None
    unspec = ctypes.create_string_buffer(16)  # sockaddr with sa_family = AF_UNSPEC (0)
    if connect(sock.fileno(), unspec, ctypes.c_uint(16)) != 0:
        code = ctypes.get_errno()
        if code != errno.EAFNOSUPPORT:  # BSDs report it yet disconnect
            raise OSError(code, "disconnect")


class DatagramStream(HostObject):
    """Common part of both datagram streams: the socket they belong to."""

    __slots__ = ("owner",)

    def __init__(self, owner: UdpSocket) -> None:
        super().__init__()
        self.owner = owner
        owner.streams += 1

    def close(self) -> None:
        self.owner.streams -= 1


class IncomingDatagrams(DatagramStream):
    __slots__ = ()


class OutgoingDatagrams(DatagramStream):
    __slots__ = ("permit",)

    def __init__(self, owner: UdpSocket) -> None:
        super().__init__(owner)
        self.permit = 0


# ------------------------------------------------------------------ WIT glue

UDP = Interface(
    "wasi:sockets/udp",
    resources={
        "udp-socket": Res.UDP_SOCKET,
        "incoming-datagram-stream": Res.INCOMING_DATAGRAM_STREAM,
        "outgoing-datagram-stream": Res.OUTGOING_DATAGRAM_STREAM,
        "network": Res.NETWORK,
        "pollable": Res.POLLABLE,
    },
)
UDP_CREATE = Interface(
    "wasi:sockets/udp-create-socket", resources={"udp-socket": Res.UDP_SOCKET, "network": Res.NETWORK}
)


def _method(resource: str, name: str) -> Any:
    return UDP.func(f"[method]{resource}.{name}")


@UDP_CREATE.func("create-udp-socket")
def create_udp_socket(ctx: WasiCtx, family: str) -> Any:
    if not ctx.sockets.udp:
        return "access-denied"

    def make(sock: socket.socket, budget: DescriptorBudget) -> Any:
        return ctx.own(UdpSocket(sock, family, budget), Res.UDP_SOCKET)

    return socket_call(lambda: open_socket(ctx, family, socket.SOCK_DGRAM, make))


@_method("udp-socket", "start-bind")
def start_bind(ctx: WasiCtx, self: Any, network: Any, local: Any) -> Optional[str]:
    ctx.get(network, Network)
    sock = ctx.get(self, UdpSocket)
    addr = from_wit(local)

    def run() -> None:
        if sock.op is not None:
            raise SocketError("concurrency-conflict")
        if sock.is_bound():
            raise SocketError("invalid-state")
        if not valid_family(addr, sock.family):
            raise SocketError("invalid-argument")
        ctx.sockets.check(addr, "udp-bind")
        bind_socket(sock.sock, addr, reuse=False)
        sock.bound = True
        sock.op = "bind"

    return socket_call(run)


@_method("udp-socket", "finish-bind")
def finish_bind(ctx: WasiCtx, self: Any) -> Optional[str]:
    sock = ctx.get(self, UdpSocket)
    if sock.op != "bind":
        return "not-in-progress"
    sock.op = None
    return None


@_method("udp-socket", "stream")
def stream(ctx: WasiCtx, self: Any, remote: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    if sock.streams:
        raise trap("UDP streams not dropped yet")
    addr = None if remote is None else from_wit(remote)

    def run() -> Any:
        if not sock.is_bound():
            raise SocketError("invalid-state")
        if addr is not None:
            if not valid_family(addr, sock.family) or not valid_remote(addr):
                raise SocketError("invalid-argument")
            try:
                ctx.sockets.check(addr, "udp-send")
            except SocketError:
                ctx.sockets.check(addr, "udp-receive")
            try:
                sock.sock.connect(addr.to_host())
            finally:
                _update_remote(sock)
        elif sock.remote is not None:
            try:
                _disconnect(sock.sock)
            finally:
                _update_remote(sock)
        incoming = ctx.own(sock.adopt(IncomingDatagrams(sock)), Res.INCOMING_DATAGRAM_STREAM)
        outgoing = ctx.own(sock.adopt(OutgoingDatagrams(sock)), Res.OUTGOING_DATAGRAM_STREAM)
        return (incoming, outgoing)

    return socket_call(run)


def _update_remote(sock: UdpSocket) -> None:
    try:
        peer = from_host(sock.sock.getpeername())
    except (OSError, ValueError):
        sock.remote = None
        return
    sock.remote = None if peer == unspecified(sock.family) else peer


@_method("udp-socket", "local-address")
def local_address(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)

    def run() -> Any:
        if not sock.is_bound():
            raise SocketError("invalid-state")
        return from_host(sock.sock.getsockname()).to_wit()

    return socket_call(run)


@_method("udp-socket", "remote-address")
def remote_address(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    return "invalid-state" if sock.remote is None else sock.remote.to_wit()


@_method("udp-socket", "address-family")
def address_family(ctx: WasiCtx, self: Any) -> str:
    return ctx.get(self, UdpSocket).family


@_method("udp-socket", "unicast-hop-limit")
def unicast_hop_limit(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: get_hop_limit(sock.sock, sock.family))


@_method("udp-socket", "set-unicast-hop-limit")
def set_unicast_hop_limit(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: set_hop_limit(sock.sock, sock.family, value))


@_method("udp-socket", "receive-buffer-size")
def receive_buffer_size(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: get_buffer_size(sock.sock, socket.SO_RCVBUF))


@_method("udp-socket", "set-receive-buffer-size")
def set_receive_buffer_size(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: set_buffer_size(sock.sock, socket.SO_RCVBUF, value))


@_method("udp-socket", "send-buffer-size")
def send_buffer_size(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: get_buffer_size(sock.sock, socket.SO_SNDBUF))


@_method("udp-socket", "set-send-buffer-size")
def set_send_buffer_size(ctx: WasiCtx, self: Any, value: int) -> Optional[str]:
    sock = ctx.get(self, UdpSocket)
    return socket_call(lambda: set_buffer_size(sock.sock, socket.SO_SNDBUF, value))


@_method("udp-socket", "subscribe")
def subscribe(ctx: WasiCtx, self: Any) -> Any:
    sock = ctx.get(self, UdpSocket)
    return ctx.own(sock.adopt(Pollable()), Res.POLLABLE)


@_method("incoming-datagram-stream", "receive")
def receive(ctx: WasiCtx, self: Any, max_results: int) -> Any:
    incoming = ctx.get(self, IncomingDatagrams)
    sock = incoming.owner
    limit = min(max_results, MAX_DATAGRAMS)
    budget = ctx.config.max_read_size

    def run() -> list[Any]:
        out: list[Any] = []
        total = 0
        while len(out) < limit and total < budget:
            try:
                data, peer = sock.sock.recvfrom(MAX_DATAGRAM_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                if out:
                    break
                raise
            addr = from_host(peer)
            try:
                ctx.sockets.check(addr, "udp-receive")
            except SocketError:
                continue  # silently dropped, as wasmtime does
            total += 1 + len(data)
            out.append(_incoming(data, addr))
        return out

    return socket_call(run)


def _incoming(data: bytes, addr: SockAddr) -> Any:
    return Record(**{"data": data, "remote-address": addr.to_wit()})


@_method("incoming-datagram-stream", "subscribe")
def incoming_subscribe(ctx: WasiCtx, self: Any) -> Any:
    incoming = ctx.get(self, IncomingDatagrams)
    sock = incoming.owner.sock
    return ctx.own(incoming.adopt(Pollable(lambda: readable(sock), None, sock.fileno())), Res.POLLABLE)


@_method("outgoing-datagram-stream", "check-send")
def check_send(ctx: WasiCtx, self: Any) -> Any:
    outgoing = ctx.get(self, OutgoingDatagrams)
    outgoing.permit = MAX_DATAGRAMS if writable(outgoing.owner.sock) else 0
    return outgoing.permit


def _datagram_field(datagram: Any, name: str) -> Any:
    if isinstance(datagram, dict):
        return datagram.get(name)
    return getattr(datagram, name, None)


def _send_one(ctx: WasiCtx, sock: UdpSocket, data: Any, target: Any) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise trap("malformed outgoing-datagram")
    if len(data) > MAX_DATAGRAM_SIZE:
        raise SocketError("datagram-too-large")
    connected = sock.remote
    if target is not None:
        addr = from_wit(target)
        if not valid_remote(addr) or not valid_family(addr, sock.family):
            raise SocketError("invalid-argument")
        if connected is not None and connected != addr:
            raise SocketError("invalid-argument")
    elif connected is not None:
        addr = connected
    else:
        raise SocketError("invalid-argument")
    if not sock.is_bound():
        ctx.sockets.check(unspecified(sock.family), "udp-bind")
    ctx.sockets.check(addr, "udp-send")
    if connected is not None:
        sock.sock.send(data)
    else:
        sock.sock.sendto(data, addr.to_host())


@_method("outgoing-datagram-stream", "send")
def send(ctx: WasiCtx, self: Any, datagrams: list[Any]) -> Any:
    outgoing = ctx.get(self, OutgoingDatagrams)
    if not datagrams:
        return 0
    if len(datagrams) > outgoing.permit:
        raise trap("unpermitted: argument exceeds permitted size")
    outgoing.permit = 0
    sent = 0
    for datagram in datagrams:
        data = _datagram_field(datagram, "data")
        target = _datagram_field(datagram, "remote-address")
        try:
            _send_one(ctx, outgoing.owner, data, target)
        except (BlockingIOError, InterruptedError):
            break
        except (SocketError, OSError) as err:
            if sent:
                break
            return code_of(err)
        sent += 1
    return sent


@_method("outgoing-datagram-stream", "subscribe")
def outgoing_subscribe(ctx: WasiCtx, self: Any) -> Any:
    outgoing = ctx.get(self, OutgoingDatagrams)
    sock = outgoing.owner.sock
    return ctx.own(outgoing.adopt(Pollable(lambda: writable(sock))), Res.POLLABLE)


__all__ = ["UDP", "UDP_CREATE", "UdpSocket", "create_udp_socket"]
