"""Shared pieces of ``wasi:sockets``: policy, error codes, addresses and socket options.

* :class:`SocketsState` is the network policy of one context (read from the
  :class:`~..config.WasiConfig`): which protocols are allowed, and the
  optional ``socket_addr_check(address, use)`` callable consulted before every
  bind, connect, listen, accept, send and receive (``use`` is one of
  :data:`ADDRESS_USES`; ``address`` is ``(ip, port)``).
* Failures inside the socket code raise :class:`SocketError` carrying a WIT
  ``error-code`` case name; :func:`socket_call` turns it into the return value.
  ``OSError`` maps to a code as wasmtime maps errno values.
* Every socket the guest holds claims one unit of the context's descriptor
  budget (``WasiConfig.max_host_descriptors``, shared with files and HTTP):
  :func:`open_socket` claims it before the host socket is created (past the
  limit the guest gets ``new-socket-limit``, the code wasmtime gives for
  ``EMFILE``), and :meth:`HostSocket.close` gives it back, once.
* Addresses: the WIT ``ip-socket-address`` arrives as
  ``Variant("ipv4", Record(port, address))`` (or ``"ipv6"`` with ``flow-info``
  and ``scope-id``); :func:`from_wit` makes a :class:`SockAddr` of it and
  :meth:`SockAddr.to_wit` goes back.
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

from ...types.values import Record, Variant
from ..ctx import DescriptorBudget, HostObject, Interface, Res, trap
from ..io import IoError

if TYPE_CHECKING:
    from ..config import WasiConfig
    from ..ctx import WasiCtx

T = TypeVar("T")
IPAddr = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

ADDRESS_USES = ("tcp-bind", "tcp-connect", "tcp-listen", "tcp-accept", "udp-bind", "udp-send", "udp-receive")
FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}
FLOW_LABEL_MASK = 0xFFFFF


class SocketError(Exception):
    """A failed socket operation: ``code`` is the WIT ``error-code`` case."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SocketIoError(IoError):
    """A ``wasi:io/error`` raised by a socket stream; ``network-error-code`` reads ``code``."""

    __slots__ = ("code",)

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class HostSocket(HostObject):
    """A resource owning a host socket and the descriptor-budget unit it was opened with."""

    __slots__ = ("sock", "budget")

    def __init__(self, sock: socket.socket, budget: Optional[DescriptorBudget]) -> None:
        super().__init__()
        self.sock = sock
        self.budget = budget

    def close(self) -> None:
        """Close the host socket and give its budget unit back (idempotent)."""
        self.sock.close()
        budget, self.budget = self.budget, None
        if budget is not None:
            budget.release()


def claim_descriptor(ctx: WasiCtx) -> DescriptorBudget:
    """Take one unit of the context's descriptor budget; ``new-socket-limit`` past the limit."""
    budget = ctx.descriptors
    if not budget.claim():
        raise SocketError("new-socket-limit")
    return budget


def open_socket(ctx: WasiCtx, family: str, kind: int, make: Callable[[socket.socket, DescriptorBudget], T]) -> T:
    """A new host socket wrapped by ``make(sock, budget)``, after claiming its budget unit."""
    budget = claim_descriptor(ctx)
    try:
        sock = new_socket(family, kind)
    except BaseException:
        budget.release()
        raise
    try:
        return make(sock, budget)
    except BaseException:
        sock.close()
        budget.release()
        raise


class Network(HostObject):
    """The ``network`` resource: a capability token, all policy lives in the context."""

    __slots__ = ()


class SocketsState:
    """The network policy of one context."""

    def __init__(self, config: WasiConfig) -> None:
        self.tcp = config.tcp_allowed
        self.udp = config.udp_allowed
        self.lookup = config.ip_name_lookup_allowed
        self.addr_check: Optional[Callable[[tuple[str, int], str], bool]] = config.socket_addr_check

    def check(self, addr: SockAddr, use: str) -> None:
        """Raise ``access-denied`` unless the address check allows ``use`` of ``addr``."""
        check = self.addr_check
        if check is not None and not check((str(addr.ip), addr.port), use):
            raise SocketError("access-denied")


_ERRNO_CODES = {
    errno.EPERM: "access-denied",
    errno.EACCES: "access-denied",
    errno.EADDRINUSE: "address-in-use",
    errno.EADDRNOTAVAIL: "address-not-bindable",
    errno.ETIMEDOUT: "timeout",
    errno.ECONNREFUSED: "connection-refused",
    errno.ECONNRESET: "connection-reset",
    errno.ECONNABORTED: "connection-aborted",
    errno.EINVAL: "invalid-argument",
    errno.EHOSTUNREACH: "remote-unreachable",
    errno.EHOSTDOWN: "remote-unreachable",
    errno.ENETDOWN: "remote-unreachable",
    errno.ENETUNREACH: "remote-unreachable",
    errno.EISCONN: "invalid-state",
    errno.ENOTCONN: "invalid-state",
    errno.EDESTADDRREQ: "invalid-state",
    errno.EMSGSIZE: "datagram-too-large",
    errno.ENOMEM: "out-of-memory",
    errno.ENOBUFS: "out-of-memory",
    errno.EOPNOTSUPP: "not-supported",
    errno.ENOPROTOOPT: "not-supported",
    errno.EPFNOSUPPORT: "not-supported",
    errno.EPROTONOSUPPORT: "not-supported",
    errno.EPROTOTYPE: "not-supported",
    errno.ESOCKTNOSUPPORT: "not-supported",
    errno.EAFNOSUPPORT: "not-supported",
    errno.EMFILE: "new-socket-limit",
    errno.ENFILE: "new-socket-limit",
}
if hasattr(errno, "ENONET"):
    _ERRNO_CODES[errno.ENONET] = "remote-unreachable"


def error_code(err: OSError) -> str:
    """The WIT ``error-code`` of a host ``OSError`` (``unknown`` when there is none)."""
    return _ERRNO_CODES.get(err.errno or 0, "unknown")


def code_of(err: Union[SocketError, OSError]) -> str:
    """The ``error-code`` of a :class:`SocketError` or host ``OSError``."""
    return err.code if isinstance(err, SocketError) else error_code(err)


def socket_call(action: Callable[[], T]) -> Union[T, str]:
    """Run ``action``; a :class:`SocketError` or ``OSError`` becomes the ``error-code`` value."""
    try:
        return action()
    except (SocketError, OSError) as err:
        return code_of(err)


# ------------------------------------------------------------------ addresses


@dataclass(frozen=True)
class SockAddr:
    """An IP socket address; ``flow_info``/``scope_id`` only matter for IPv6."""

    ip: IPAddr
    port: int
    flow_info: int = 0
    scope_id: int = 0

    @property
    def family(self) -> str:
        return "ipv4" if self.ip.version == 4 else "ipv6"

    def to_host(self) -> tuple[Any, ...]:
        """The address tuple of Python's ``socket`` module.

        ``flow-info`` is a guest's u32, but Python refuses more than the 20-bit
        flow label (OverflowError); the kernel reads no more than that, and only
        with ``IPV6_FLOWINFO_SEND`` (which WASI cannot set), so the rest is dropped.
        """
        if self.ip.version == 4:
            return (str(self.ip), self.port)
        return (str(self.ip), self.port, self.flow_info & FLOW_LABEL_MASK, self.scope_id)

    def to_wit(self) -> Variant:
        """The WIT ``ip-socket-address`` value."""
        if isinstance(self.ip, ipaddress.IPv4Address):
            return Variant("ipv4", Record(port=self.port, address=tuple(self.ip.packed)))
        fields = {"port": self.port, "flow-info": self.flow_info, "address": ipv6_tuple(self.ip), "scope-id": self.scope_id}
        return Variant("ipv6", Record(**fields))


def ipv6_tuple(ip: ipaddress.IPv6Address) -> tuple[int, ...]:
    return struct.unpack("!8H", ip.packed)


def ip_to_wit(ip: IPAddr) -> Variant:
    """The WIT ``ip-address`` value."""
    if isinstance(ip, ipaddress.IPv4Address):
        return Variant("ipv4", tuple(ip.packed))
    return Variant("ipv6", ipv6_tuple(ip))


def _field(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name not in value:
            raise trap(f"socket address lacks field `{name}`")
        return value[name]
    try:
        return getattr(value, name)
    except AttributeError:
        raise trap(f"socket address lacks field `{name}`") from None


def _ints(value: Any, count: int, limit: int) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) != count:
        raise trap("malformed IP address")
    if not all(isinstance(x, int) and 0 <= x < limit for x in value):
        raise trap("malformed IP address")
    return tuple(value)


def from_wit(value: Any) -> SockAddr:
    """A :class:`SockAddr` from a WIT ``ip-socket-address`` value."""
    tag = getattr(value, "tag", None)
    payload = getattr(value, "payload", None)
    if tag == "ipv4":
        ip: IPAddr = ipaddress.IPv4Address(bytes(_ints(_field(payload, "address"), 4, 256)))
        return SockAddr(ip, _field(payload, "port"))
    if tag == "ipv6":
        words = _ints(_field(payload, "address"), 8, 1 << 16)
        ip = ipaddress.IPv6Address(struct.pack("!8H", *words))
        return SockAddr(ip, _field(payload, "port"), _field(payload, "flow-info"), _field(payload, "scope-id"))
    raise trap("malformed ip-socket-address")


def from_host(addr: Any) -> SockAddr:
    """A :class:`SockAddr` from an address tuple of Python's ``socket`` module."""
    ip = ipaddress.ip_address(addr[0].split("%", 1)[0])
    if len(addr) >= 4:
        return SockAddr(ip, addr[1], addr[2], addr[3])
    return SockAddr(ip, addr[1])


def canonical(ip: IPAddr) -> IPAddr:
    """An IPv4-mapped IPv6 address as IPv4, any other unchanged."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def unspecified(family: str) -> SockAddr:
    return SockAddr(ipaddress.ip_address("0.0.0.0" if family == "ipv4" else "::"), 0)


def valid_family(addr: SockAddr, family: str) -> bool:
    """Whether ``addr`` suits a socket of ``family`` (no IPv4-mapped or -compatible IPv6)."""
    ip = addr.ip
    if family == "ipv4":
        return ip.version == 4
    if not isinstance(ip, ipaddress.IPv6Address):
        return False
    if ip.ipv4_mapped is not None:
        return False
    words = ipv6_tuple(ip)
    compatible = words[:6] == (0,) * 6 and int(ip) > 1
    return not compatible


def valid_unicast(addr: SockAddr) -> bool:
    ip = canonical(addr.ip)
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return False
    return not ip.is_multicast


def valid_remote(addr: SockAddr) -> bool:
    return not canonical(addr.ip).is_unspecified and addr.port != 0


# ------------------------------------------------------------------ socket options

_BUFFER_MAX = (1 << 31) - 1


def get_hop_limit(sock: socket.socket, family: str) -> int:
    if family == "ipv4":
        value = sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)
    else:
        value = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)
    if not 0 <= value <= 255:
        raise SocketError("not-supported")
    return value


def set_hop_limit(sock: socket.socket, family: str, value: int) -> None:
    if value == 0:
        raise SocketError("invalid-argument")
    if family == "ipv4":
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, value)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, value)


def get_buffer_size(sock: socket.socket, option: int) -> int:
    value = sock.getsockopt(socket.SOL_SOCKET, option)
    # Linux reports twice the requested size (its bookkeeping); halve it as wasmtime does.
    return value // 2 if sys.platform.startswith("linux") else value


def set_buffer_size(sock: socket.socket, option: int, value: int) -> None:
    if value == 0:
        raise SocketError("invalid-argument")
    try:
        sock.setsockopt(socket.SOL_SOCKET, option, min(max(value, 1), _BUFFER_MAX))
    except OSError as err:
        if err.errno != errno.ENOBUFS:  # a hint: BSDs refuse large values, treat as clamped
            raise


def new_socket(family: str, kind: int) -> socket.socket:
    """A non-blocking socket; IPv6 sockets are IPv6-only as WASI requires."""
    sock = socket.socket(FAMILIES[family], kind)
    try:
        sock.setblocking(False)
        if family == "ipv6":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    except OSError:
        sock.close()
        raise
    return sock


def bind_socket(sock: socket.socket, addr: SockAddr, reuse: bool) -> None:
    if reuse and sys.platform != "win32":
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        except OSError:
            pass
    try:
        sock.bind(addr.to_host())
    except OSError as err:
        if err.errno == errno.EAFNOSUPPORT:
            raise SocketError("invalid-argument") from None
        raise


def writable(sock: socket.socket) -> bool:
    """Whether ``sock`` is writable now (select with a zero timeout)."""
    try:
        _, ready, _ = select.select([], [sock], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def readable(sock: socket.socket) -> bool:
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


# ------------------------------------------------------------------ interfaces

NETWORK = Interface("wasi:sockets/network", resources={"network": Res.NETWORK, "error": Res.ERROR})
INSTANCE_NETWORK = Interface("wasi:sockets/instance-network", resources={"network": Res.NETWORK})


@NETWORK.func("network-error-code")
def network_error_code(ctx: WasiCtx, err: Any) -> Optional[str]:
    error = ctx.get(err, IoError)
    return error.code if isinstance(error, SocketIoError) else None


@INSTANCE_NETWORK.func("instance-network")
def instance_network(ctx: WasiCtx) -> Any:
    return ctx.own(Network(), Res.NETWORK)
