"""A componentize-py guest calling ``wasi:sockets`` through its generated bindings.

Every export returns a text log whose lines do not depend on port numbers, so
a host test can compare the same run under two runtimes.  Failures are logged
as ``err:<error-code>`` (the WIT case name).
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import (
    instance_network,
    ip_name_lookup,
    network,
    poll,
    tcp,
    tcp_create_socket,
    udp,
    udp_create_socket,
)
from wit_world.imports.streams import StreamError_Closed

LOOPBACK = (127, 0, 0, 1)
IPV4 = network.IpAddressFamily.IPV4


def _code(exc: Err) -> str:
    value = exc.value
    name = getattr(value, "name", None)
    return "err:" + (name.lower().replace("_", "-") if name else type(value).__name__)


def _attempt(log: list, label: str, action) -> object:
    try:
        result = action()
    except Err as exc:
        log.append(f"{label}: {_code(exc)}")
        return None
    log.append(f"{label}: ok")
    return result


def _v4(port: int) -> network.IpSocketAddress:
    return network.IpSocketAddress_Ipv4(network.Ipv4SocketAddress(port=port, address=LOOPBACK))


def _describe(addr: network.IpSocketAddress) -> str:
    value = addr.value
    if isinstance(addr, network.IpSocketAddress_Ipv4):
        return "ipv4 " + ".".join(str(x) for x in value.address)
    return "ipv6 " + ":".join(f"{x:x}" for x in value.address)


def _wait(pollable: poll.Pollable) -> None:
    poll.poll([pollable])


def _connect(net: network.Network, port: int) -> tuple:
    sock = tcp_create_socket.create_tcp_socket(IPV4)
    sock.start_connect(net, _v4(port))
    while True:
        try:
            streams = sock.finish_connect()
            return sock, streams[0], streams[1]
        except Err as exc:
            if exc.value != network.ErrorCode.WOULD_BLOCK:
                raise
            with sock.subscribe() as ready:
                _wait(ready)


def _read_exactly(stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        try:
            data += stream.blocking_read(size - len(data))
        except Err as exc:
            if isinstance(exc.value, StreamError_Closed):
                break
            raise
    return data


class WitWorld(wit_world.WitWorld):
    def tcp_echo(self, port: int, payload: bytes) -> str:
        net = instance_network.instance_network()
        try:
            sock, rx, tx = _connect(net, port)
        except Err as exc:
            return "connect " + _code(exc)
        log = ["connected", "remote " + _describe(sock.remote_address()), "local " + _describe(sock.local_address())]
        for start in range(0, len(payload), 4096):
            tx.blocking_write_and_flush(payload[start : start + 4096])
        echoed = _read_exactly(rx, len(payload))
        log.append(f"echoed {len(echoed)} bytes, same {echoed == payload}")
        sock.shutdown(tcp.ShutdownType.SEND)
        rx.__exit__(None, None, None)
        tx.__exit__(None, None, None)
        sock.__exit__(None, None, None)
        return "\n".join(log)

    def udp_echo(self, port: int, payload: bytes) -> str:
        net = instance_network.instance_network()
        log: list = []
        sock = _attempt(log, "create", lambda: udp_create_socket.create_udp_socket(IPV4))
        if sock is None:
            return "\n".join(log)
        _attempt(log, "start-bind", lambda: sock.start_bind(net, _v4(0)))
        _attempt(log, "finish-bind", sock.finish_bind)
        log.append("local " + _describe(sock.local_address()))
        pair = _attempt(log, "stream", lambda: sock.stream(None))
        if pair is None:
            return "\n".join(log)
        incoming, outgoing = pair
        permit = _attempt(log, "check-send", outgoing.check_send)
        log.append(f"permit>0 {bool(permit)}")
        sent = _attempt(log, "send", lambda: outgoing.send([udp.OutgoingDatagram(payload, _v4(port))]))
        log.append(f"sent {sent}")
        got: list = []
        while not got:
            with incoming.subscribe() as ready:
                _wait(ready)
            got = incoming.receive(4)
        log.append(f"received {len(got)} datagram(s), same {got[0].data == payload}")
        log.append("from " + _describe(got[0].remote_address))
        for resource in (incoming, outgoing, sock):
            resource.__exit__(None, None, None)
        return "\n".join(log)

    def create(self) -> str:
        log: list = []
        for label, make in (
            ("tcp", lambda: tcp_create_socket.create_tcp_socket(IPV4)),
            ("udp", lambda: udp_create_socket.create_udp_socket(IPV4)),
        ):
            sock = _attempt(log, label, make)
            if sock is not None:
                log.append(f"{label} family {sock.address_family().name.lower()}")
                sock.__exit__(None, None, None)
        return "\n".join(log)

    def lookup(self, name: str) -> str:
        net = instance_network.instance_network()
        try:
            stream = ip_name_lookup.resolve_addresses(net, name)
        except Err as exc:
            return "resolve-addresses " + _code(exc)
        found = []
        while True:
            try:
                addr = stream.resolve_next_address()
            except Err as exc:
                if exc.value == network.ErrorCode.WOULD_BLOCK:
                    with stream.subscribe() as ready:
                        _wait(ready)
                    continue
                return "resolve-next-address " + _code(exc)
            if addr is None:
                break
            kind = "ipv4" if isinstance(addr, network.IpAddress_Ipv4) else "ipv6"
            found.append(kind + " " + ".".join(str(x) for x in addr.value))
        return "addresses " + ", ".join(sorted(set(found)))

    def tcp_states(self) -> str:
        net = instance_network.instance_network()
        log: list = []
        server = _attempt(log, "create", lambda: tcp_create_socket.create_tcp_socket(IPV4))
        if server is None:
            return "\n".join(log)
        _attempt(log, "finish-bind before start", server.finish_bind)
        _attempt(log, "local-address unbound", server.local_address)
        _attempt(log, "listen unbound", server.start_listen)
        _attempt(log, "accept unbound", server.accept)
        _attempt(log, "remote-address unbound", server.remote_address)
        _attempt(log, "bind multicast", lambda: server.start_bind(net, network.IpSocketAddress_Ipv4(
            network.Ipv4SocketAddress(port=0, address=(224, 0, 0, 1)))))
        _attempt(log, "bind ipv6 on ipv4 socket", lambda: server.start_bind(net, network.IpSocketAddress_Ipv6(
            network.Ipv6SocketAddress(port=0, flow_info=0, address=(0, 0, 0, 0, 0, 0, 0, 1), scope_id=0))))
        _attempt(log, "start-bind", lambda: server.start_bind(net, _v4(0)))
        _attempt(log, "start-bind again", lambda: server.start_bind(net, _v4(0)))
        _attempt(log, "finish-bind", server.finish_bind)
        _attempt(log, "finish-bind again", server.finish_bind)
        local = server.local_address()
        log.append("bound " + _describe(local))
        _attempt(log, "backlog 0", lambda: server.set_listen_backlog_size(0))
        _attempt(log, "backlog 10", lambda: server.set_listen_backlog_size(10))
        _attempt(log, "hop-limit 0", lambda: server.set_hop_limit(0))
        _attempt(log, "hop-limit 42", lambda: server.set_hop_limit(42))
        log.append(f"hop-limit {server.hop_limit()}")
        _attempt(log, "keep-alive on", lambda: server.set_keep_alive_enabled(True))
        log.append(f"keep-alive {server.keep_alive_enabled()}")
        _attempt(log, "keep-alive-idle 0", lambda: server.set_keep_alive_idle_time(0))
        _attempt(log, "keep-alive-idle 30s", lambda: server.set_keep_alive_idle_time(30 * 10**9))
        log.append(f"keep-alive-idle {server.keep_alive_idle_time()}")
        _attempt(log, "receive-buffer 0", lambda: server.set_receive_buffer_size(0))
        log.append(f"receive-buffer>0 {server.receive_buffer_size() > 0}")
        _attempt(log, "finish-listen before start", server.finish_listen)
        _attempt(log, "start-listen", server.start_listen)
        _attempt(log, "start-listen again", server.start_listen)
        _attempt(log, "finish-listen", server.finish_listen)
        log.append(f"is-listening {server.is_listening()}")
        _attempt(log, "accept nothing pending", server.accept)
        _attempt(log, "connect while listening", lambda: server.start_connect(net, _v4(1)))
        _attempt(log, "shutdown listener", lambda: server.shutdown(tcp.ShutdownType.BOTH))

        client = tcp_create_socket.create_tcp_socket(IPV4)
        _attempt(log, "finish-connect before start", client.finish_connect)
        _attempt(log, "connect to port 0", lambda: client.start_connect(net, _v4(0)))
        _attempt(log, "connect to 0.0.0.0", lambda: client.start_connect(net, network.IpSocketAddress_Ipv4(
            network.Ipv4SocketAddress(port=local.value.port, address=(0, 0, 0, 0)))))
        _attempt(log, "start-connect", lambda: client.start_connect(net, local))
        _attempt(log, "start-connect again", lambda: client.start_connect(net, local))
        _attempt(log, "local-address connecting", client.local_address)
        streams = None
        while streams is None:
            try:
                streams = client.finish_connect()
            except Err as exc:
                if exc.value != network.ErrorCode.WOULD_BLOCK:
                    log.append("finish-connect " + _code(exc))
                    return "\n".join(log)
                with client.subscribe() as ready:
                    _wait(ready)
        log.append("finish-connect: ok")
        _attempt(log, "finish-connect again", client.finish_connect)
        _attempt(log, "start-listen connected", client.start_listen)
        with server.subscribe() as ready:
            _wait(ready)
        accepted = _attempt(log, "accept", server.accept)
        peer, peer_rx, peer_tx = accepted
        log.append("peer remote " + _describe(peer.remote_address()))
        log.append(f"peer is-listening {peer.is_listening()}")
        rx, tx = streams
        tx.blocking_write_and_flush(b"ping")
        log.append("peer read " + repr(_read_exactly(peer_rx, 4)))
        peer_tx.blocking_write_and_flush(b"pong")
        log.append("client read " + repr(_read_exactly(rx, 4)))
        _attempt(log, "client shutdown send", lambda: client.shutdown(tcp.ShutdownType.SEND))
        log.append("peer read after shutdown " + repr(_read_exactly(peer_rx, 1)))
        for stream in (peer_rx, peer_tx, rx, tx):
            stream.__exit__(None, None, None)
        for sock in (peer, client, server):
            sock.__exit__(None, None, None)
        return "\n".join(log)
