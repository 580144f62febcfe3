"""``wasi:sockets`` 0.2: TCP, UDP and name lookup on the host's sockets, behind a policy.

Every interface is always defined (componentize-py guests import all seven).
What a guest may do is decided by the :class:`~..config.WasiConfig`, with
wasmtime's defaults and error codes:

* TCP / UDP: ``create-*-socket`` is ``access-denied`` unless ``allow_tcp()`` /
  ``allow_udp()``; name lookup yields ``permanent-resolver-failure`` unless
  ``allow_ip_name_lookup()``; ``inherit_network()`` allows all three.
* ``cfg.socket_addr_check = f`` restricts addresses: ``f((ip, port), use)``
  returns whether the use is allowed (``use`` in
  :data:`~.network.ADDRESS_USES`); a refusal is ``access-denied``.

Modules: ``network`` (policy, addresses, errors), ``tcp``, ``udp``, ``lookup``.
Sockets are non-blocking; ``start-connect`` begins a host connect and
``finish-connect`` is ``would-block`` until it completes; every ``subscribe``
pollable works with ``wasi:io/poll``.
"""

from .lookup import (
    IP_NAME_LOOKUP,
    ResolveStream,
    resolve_addresses,
    resolve_next_address,
    resolve_subscribe,
)
from .network import (
    ADDRESS_USES,
    INSTANCE_NETWORK,
    NETWORK,
    Network,
    SockAddr,
    SocketError,
    SocketsState,
    instance_network,
    network_error_code,
)
from .tcp import TCP, TCP_CREATE, TcpSocket, create_tcp_socket
from .udp import UDP, UDP_CREATE, UdpSocket, create_udp_socket

INTERFACES = [NETWORK, INSTANCE_NETWORK, TCP, TCP_CREATE, UDP, UDP_CREATE, IP_NAME_LOOKUP]

__all__ = [
    "ADDRESS_USES",
    "INTERFACES",
    "Network",
    "ResolveStream",
    "SockAddr",
    "SocketError",
    "SocketsState",
    "TcpSocket",
    "UdpSocket",
    "create_tcp_socket",
    "create_udp_socket",
    "instance_network",
    "network_error_code",
    "resolve_addresses",
    "resolve_next_address",
    "resolve_subscribe",
]
