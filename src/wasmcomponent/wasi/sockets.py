"""``wasi:sockets`` 0.2: every interface present, network access denied.

Components built by componentize-py import all seven sockets interfaces, so
they must exist for linking.  The policy is wasmtime's default: creating a TCP
or UDP socket fails with ``access-denied``, and a name lookup yields a stream
whose ``resolve-next-address`` fails with ``permanent-resolver-failure``.
``instance-network`` always succeeds (the network handle is a placeholder).

Real sockets are not implemented yet: when the configuration allows TCP, UDP
or name lookup, the calls fail with ``not-supported`` instead.  Methods of
socket resources cannot be reached (no socket can be created); they trap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..runtime.resources import ResourceHost
from .ctx import HostObject, Interface, Res, trap
from .io import Pollable

if TYPE_CHECKING:
    from .config import WasiConfig
    from .ctx import WasiCtx


class SocketsState:
    """The network policy of one context."""

    def __init__(self, config: WasiConfig) -> None:
        self.tcp = config.tcp_allowed
        self.udp = config.udp_allowed
        self.lookup = config.ip_name_lookup_allowed


class Network(HostObject):
    """The ``network`` resource: a placeholder, all policy lives in the context."""

    __slots__ = ()


class ResolveStream(HostObject):
    """A ``resolve-address-stream`` that only reports an error."""

    __slots__ = ("error", "done")

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
        self.done = False


NETWORK = Interface("wasi:sockets/network", resources={"network": Res.NETWORK, "error": Res.ERROR})
INSTANCE_NETWORK = Interface("wasi:sockets/instance-network", resources={"network": Res.NETWORK})
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
IP_NAME_LOOKUP = Interface(
    "wasi:sockets/ip-name-lookup",
    resources={"resolve-address-stream": Res.RESOLVE_ADDRESS_STREAM, "network": Res.NETWORK, "pollable": Res.POLLABLE},
)
INTERFACES = [NETWORK, INSTANCE_NETWORK, TCP, TCP_CREATE, UDP, UDP_CREATE, IP_NAME_LOOKUP]

_TCP_METHODS = (
    "start-bind finish-bind start-connect finish-connect start-listen finish-listen accept local-address "
    "remote-address is-listening address-family set-listen-backlog-size keep-alive-enabled "
    "set-keep-alive-enabled keep-alive-idle-time set-keep-alive-idle-time keep-alive-interval "
    "set-keep-alive-interval keep-alive-count set-keep-alive-count hop-limit set-hop-limit "
    "receive-buffer-size set-receive-buffer-size send-buffer-size set-send-buffer-size subscribe shutdown"
)
_UDP_METHODS = {
    "udp-socket": "start-bind finish-bind stream local-address remote-address address-family unicast-hop-limit "
    "set-unicast-hop-limit receive-buffer-size set-receive-buffer-size send-buffer-size "
    "set-send-buffer-size subscribe",
    "incoming-datagram-stream": "receive subscribe",
    "outgoing-datagram-stream": "check-send send subscribe",
}


def _unreachable(name: str) -> Callable[..., Any]:
    def method(ctx: WasiCtx, *args: Any) -> Any:
        raise trap(f"`{name}`: no socket of this type can exist in this host")

    return method


for _m in _TCP_METHODS.split():
    TCP.funcs[f"[method]tcp-socket.{_m}"] = _unreachable(f"tcp-socket.{_m}")
for _res, _methods in _UDP_METHODS.items():
    for _m in _methods.split():
        UDP.funcs[f"[method]{_res}.{_m}"] = _unreachable(f"{_res}.{_m}")


@NETWORK.func("network-error-code")
def network_error_code(ctx: WasiCtx, err: Any) -> None:
    return None


@INSTANCE_NETWORK.func("instance-network")
def instance_network(ctx: WasiCtx) -> ResourceHost:
    return ctx.own(Network(), Res.NETWORK)


@TCP_CREATE.func("create-tcp-socket")
def create_tcp_socket(ctx: WasiCtx, family: str) -> str:
    return "not-supported" if ctx.sockets.tcp else "access-denied"


@UDP_CREATE.func("create-udp-socket")
def create_udp_socket(ctx: WasiCtx, family: str) -> str:
    return "not-supported" if ctx.sockets.udp else "access-denied"


@IP_NAME_LOOKUP.func("resolve-addresses")
def resolve_addresses(ctx: WasiCtx, network: Any, name: str) -> ResourceHost:
    ctx.get(network, Network)
    error = "not-supported" if ctx.sockets.lookup else "permanent-resolver-failure"
    return ctx.own(ResolveStream(error), Res.RESOLVE_ADDRESS_STREAM)


@IP_NAME_LOOKUP.func("[method]resolve-address-stream.resolve-next-address")
def resolve_next_address(ctx: WasiCtx, self: Any) -> Any:
    stream = ctx.get(self, ResolveStream)
    return stream.error


@IP_NAME_LOOKUP.func("[method]resolve-address-stream.subscribe")
def resolve_subscribe(ctx: WasiCtx, self: Any) -> ResourceHost:
    stream = ctx.get(self, ResolveStream)
    return ctx.own(stream.adopt(Pollable()), Res.POLLABLE)
