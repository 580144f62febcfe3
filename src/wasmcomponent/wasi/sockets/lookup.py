"""``wasi:sockets/ip-name-lookup``: ``resolve-addresses`` with ``socket.getaddrinfo``.

Every outcome is known when ``resolve-addresses`` returns, so every error
comes from it, as wasmtime reports an error it knows at once:
``permanent-resolver-failure`` without the policy's permission,
``invalid-argument`` for a malformed name, ``name-unresolvable`` when the
lookup fails.  An IP literal (``127.0.0.1``, ``::1``, ``[::1]``) resolves to
itself; other names are looked up synchronously (the guest waits; under
asyncio on a helper thread, the loop going on: ``wasi.aio``).

Why not in the background, as wasmtime does: ``resolve-next-address``
returns ``result<option<ip-address>, error-code>``, whose ``err`` case the
wasmtime-py value model cannot express from a host function (an untagged
``result`` whose ``ok`` payload is an ``option`` accepts every Python value
as ``ok``), so it can neither say ``would-block`` nor report a late failure.
Its stream yields the addresses, then ``none``.  IPv4-mapped IPv6 results are
reported as IPv4, as wasmtime does.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any, Optional

from ..ctx import HostObject, Interface, Res
from ..io import Pollable, Steps, blocking, in_thread
from .network import IPAddr, Network, SocketError, canonical, ip_to_wit

if TYPE_CHECKING:
    from ..ctx import WasiCtx

# code points a WHATWG URL host cannot contain
_FORBIDDEN = frozenset("\x00\t\n\r #%/:<>?@[\\]^|")


class ResolveStream(HostObject):
    """A ``resolve-address-stream``: the addresses found, handed out one by one."""

    __slots__ = ("addresses", "position")

    def __init__(self, addresses: list[IPAddr]) -> None:
        super().__init__()
        self.addresses = addresses
        self.position = 0


def lookup(name: str) -> list[IPAddr]:
    """The addresses of host ``name`` (``getaddrinfo``); ``name-unresolvable`` on failure."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        return [canonical(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos]
    except (OSError, UnicodeError, ValueError):
        raise SocketError("name-unresolvable") from None


def parse_name(name: str) -> Optional[IPAddr]:
    """The address an IP literal names; ``None`` for a domain; ``ValueError`` if malformed."""
    if name.startswith("["):
        if not name.endswith("]"):
            raise ValueError(name)
        return ipaddress.IPv6Address(name[1:-1])
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        pass
    if ":" in name:
        return ipaddress.IPv6Address(name)
    if not name or any(c in _FORBIDDEN for c in name):
        raise ValueError(name)
    try:
        name.encode("idna")
    except UnicodeError:
        raise ValueError(name) from None
    return None


IP_NAME_LOOKUP = Interface(
    "wasi:sockets/ip-name-lookup",
    resources={"resolve-address-stream": Res.RESOLVE_ADDRESS_STREAM, "network": Res.NETWORK, "pollable": Res.POLLABLE},
)


@blocking(IP_NAME_LOOKUP, "resolve-addresses")
def resolve_addresses(ctx: WasiCtx, network: Any, name: str, off_loop: bool) -> Steps[Any]:
    ctx.get(network, Network)
    if not ctx.sockets.lookup:
        return "permanent-resolver-failure"
    try:
        literal = parse_name(name)
    except ValueError:
        return "invalid-argument"
    try:
        if literal is not None:
            addresses = [canonical(literal)]
        elif off_loop:  # under asyncio: getaddrinfo on a helper thread, the loop going on
            found = in_thread(lookup, name)
            yield found
            addresses = found.result()
        else:
            addresses = lookup(name)
    except SocketError as err:
        return err.code
    return ctx.own(ResolveStream(addresses), Res.RESOLVE_ADDRESS_STREAM)


@IP_NAME_LOOKUP.func("[method]resolve-address-stream.resolve-next-address")
def resolve_next_address(ctx: WasiCtx, self: Any) -> Any:
    stream = ctx.get(self, ResolveStream)
    if stream.position >= len(stream.addresses):
        return None
    address = stream.addresses[stream.position]
    stream.position += 1
    return ip_to_wit(address)


@IP_NAME_LOOKUP.func("[method]resolve-address-stream.subscribe")
def resolve_subscribe(ctx: WasiCtx, self: Any) -> Any:
    stream = ctx.get(self, ResolveStream)
    return ctx.own(stream.adopt(Pollable()), Res.POLLABLE)
