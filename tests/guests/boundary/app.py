"""A componentize-py guest that hands guest-chosen integers to raw WASI 0.2 functions.

``probe(name, value)`` calls the function named ``name`` with ``value`` where
it takes an integer and returns a normalized outcome, comparable across
runtimes: ``ok(...)`` with what does not depend on timing, ``err(<code>)``
for a WASI error code, ``stream-error(closed)`` / ``stream-error(failed:<code>)``
for a stream error.  A trap unwinds the call (the host sees it).  Setup
failures are reported with their step, e.g. ``create: err(access-denied)``.

The filesystem cases work on ``f`` (100 bytes, recreated by every call) in
the first preopen; the socket cases on a fresh IPv4 socket.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import (
    insecure,
    instance_network,
    monotonic_clock,
    network,
    poll,
    preopens,
    stdin,
    stdout,
    tcp_create_socket,
    types,
    udp,
    udp_create_socket,
)
from wit_world.imports import random as wasi_random
from wit_world.imports.streams import StreamError_Closed, StreamError_LastOperationFailed

FILE_SIZE = 100
IPV4 = network.IpAddressFamily.IPV4
_HOARD: list = []


def _name(value) -> str:
    name = getattr(value, "name", None)
    return name.lower().replace("_", "-") if name else type(value).__name__


def _error(value, source: str = "") -> str:
    if isinstance(value, StreamError_Closed):
        return "stream-error(closed)"
    if isinstance(value, StreamError_LastOperationFailed):
        code = None
        if source == "fs":
            code = types.filesystem_error_code(value.value)
        elif source == "net":
            code = network.network_error_code(value.value)
        return f"stream-error(failed:{_name(code) if code is not None else 'none'})"
    return f"err({_name(value)})"


def _outcome(action, source: str = "") -> str:
    try:
        result = action()
    except Err as exc:
        return _error(exc.value, source)
    return f"ok({_describe(result)})"


def _describe(result) -> str:
    if result is None:
        return ""
    if isinstance(result, (bytes, bytearray)):
        return f"len={len(result)}"
    if isinstance(result, tuple):
        return ",".join(_describe(x) for x in result)
    if isinstance(result, list):
        return f"count={len(result)}"
    return str(result)


# ------------------------------------------------------------------ setup


def _root():
    dirs = preopens.get_directories()
    for extra, _ in dirs[1:]:
        extra.__exit__(None, None, None)
    return dirs[0][0]


def _file(root):
    flags = types.DescriptorFlags.READ | types.DescriptorFlags.WRITE
    f = root.open_at(types.PathFlags(0), "f", types.OpenFlags.CREATE | types.OpenFlags.TRUNCATE, flags)
    f.write(b"x" * FILE_SIZE, 0)
    return f


def _with_file(action):
    """``action(file)`` on a fresh 100-byte file; setup failures are reported with their step."""
    try:
        root = _root()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"preopen: {type(exc).__name__}"
    with root:
        try:
            f = _file(root)
        except Err as exc:
            return "open: " + _error(exc.value)
        with f:
            return action(root, f)


def _stream_steps(steps, source: str) -> str:
    """Run ``steps`` (callables) in order; the first error, else ``ok(<last result>)``."""
    result = None
    for step in steps:
        try:
            result = step()
        except Err as exc:
            return _error(exc.value, source)
    return f"ok({_describe(result)})"


def _timestamp(seconds: int, nanos: int = 0):
    return types.NewTimestamp_Timestamp(types.Datetime(seconds=seconds, nanoseconds=nanos))


# ------------------------------------------------------------------ io on stdin/stdout


def _stdout(action):
    with stdout.get_stdout() as out:
        return _outcome(lambda: action(out))


def _stdin(action):
    with stdin.get_stdin() as src:
        return _outcome(lambda: action(src))


def _splice_stdin(blocking: bool, v: int) -> str:
    with stdout.get_stdout() as out, stdin.get_stdin() as src:
        return _outcome(lambda: (out.blocking_splice if blocking else out.splice)(src, v))


def _splice_file(blocking: bool, v: int) -> str:
    def run(root, f):
        with f.read_via_stream(0) as src, stdout.get_stdout() as out:
            if blocking:
                return _outcome(lambda: out.blocking_splice(src, v), "fs")
            # a non-blocking file read may have nothing yet (wasmtime reads in the background)
            return _outcome(lambda: out.splice(src, v) >= 0, "fs")

    return _with_file(run)


# ------------------------------------------------------------------ file streams


def _file_input(v: int, how: str) -> str:
    def run(root, f):
        with f.read_via_stream(0) as src:
            if how == "blocking-read":
                return _outcome(lambda: src.blocking_read(v), "fs")
            if how == "blocking-skip":
                return _outcome(lambda: src.blocking_skip(v), "fs")
            if how == "read":
                return _outcome(lambda: len(src.read(v)) <= min(v, FILE_SIZE), "fs")
            return _outcome(lambda: src.skip(v) <= min(v, FILE_SIZE), "fs")

    return _with_file(run)


def _read_via_stream(v: int) -> str:
    def run(root, f):
        try:
            src = f.read_via_stream(v)
        except Err as exc:
            return "read-via-stream: " + _error(exc.value)
        with src:
            return _outcome(lambda: src.blocking_read(10), "fs")

    return _with_file(run)


def _write_via_stream(v: int) -> str:
    def run(root, f):
        try:
            dst = f.write_via_stream(v)
        except Err as exc:
            return "write-via-stream: " + _error(exc.value)
        with dst:
            return _stream_steps([dst.check_write, lambda: dst.write(b"abc"), dst.blocking_flush], "fs")

    return _with_file(run)


def _file_output(v: int, blocking: bool) -> str:
    def run(root, f):
        with f.write_via_stream(0) as dst:
            if blocking is None:
                return _stream_steps([dst.check_write], "fs")
            if blocking:
                return _stream_steps([lambda: dst.blocking_write_zeroes_and_flush(v)], "fs")
            return _stream_steps([lambda: dst.write_zeroes(v), dst.blocking_flush], "fs")

    return _with_file(run)


# ------------------------------------------------------------------ descriptors


def _descriptor(action):
    return _with_file(lambda root, f: _outcome(lambda: action(root, f)))


def _read(f, length: int, offset: int):
    data, end = f.read(length, offset)
    return (len(data), end)


# ------------------------------------------------------------------ clocks


def _ready_if_certain(pollable, v: int):
    # Readiness is only certain for the past (0) and for the far future (more than 2**63 ns away):
    # deadlines in between depend on how long the test has run, so only creation is checked.
    if v == 0 or v >= 1 << 63:
        return f"ready={pollable.ready()}"
    return "created"


def _subscribe(kind: str, v: int) -> str:
    subscribe = monotonic_clock.subscribe_duration if kind == "duration" else monotonic_clock.subscribe_instant
    with subscribe(v) as p:
        return f"ok({_ready_if_certain(p, v)})"


def _poll_duration(v: int) -> str:
    with monotonic_clock.subscribe_duration(v) as later, monotonic_clock.subscribe_duration(0) as now:
        ready = poll.poll([later, now])
    # index 1 (the zero duration) is always ready; index 0 only when it is zero too
    return f"ok({sorted(ready)})"


# ------------------------------------------------------------------ sockets


def _tcp(action):
    try:
        sock = tcp_create_socket.create_tcp_socket(IPV4)
    except Err as exc:
        return "create: " + _error(exc.value)
    with sock:
        return _outcome(lambda: action(sock))


def _udp_socket():
    sock = udp_create_socket.create_udp_socket(IPV4)
    with instance_network.instance_network() as net:
        local = network.IpSocketAddress_Ipv4(network.Ipv4SocketAddress(port=0, address=(127, 0, 0, 1)))
        sock.start_bind(net, local)
        sock.finish_bind()
    return sock


def _udp(action):
    try:
        sock = udp_create_socket.create_udp_socket(IPV4)
    except Err as exc:
        return "create: " + _error(exc.value)
    with sock:
        return _outcome(lambda: action(sock))


def _udp_streams(v: int, how: str) -> str:
    try:
        sock = _udp_socket()
    except Err as exc:
        return "setup: " + _error(exc.value)
    with sock:
        incoming, outgoing = sock.stream(None)
        with incoming, outgoing:
            if how == "receive":
                return _outcome(lambda: incoming.receive(v))
            target = network.IpSocketAddress_Ipv4(network.Ipv4SocketAddress(port=9, address=(127, 0, 0, 1)))
            datagram = udp.OutgoingDatagram(data=b"x", remote_address=target)
            # `v` datagrams (at most 17, one more than wasmtime's check-send grant of 16)
            return _outcome(lambda: (outgoing.check_send(), outgoing.send([datagram] * min(v, 17)))[1])


def _v6(port: int, flow_info: int = 0, scope_id: int = 0):
    address = (0, 0, 0, 0, 0, 0, 0, 1)
    return network.IpSocketAddress_Ipv6(
        network.Ipv6SocketAddress(port=port, flow_info=flow_info, address=address, scope_id=scope_id)
    )


def _bind6(kind: str, **fields) -> str:
    create = tcp_create_socket.create_tcp_socket if kind == "tcp" else udp_create_socket.create_udp_socket
    try:
        sock = create(network.IpAddressFamily.IPV6)
    except Err as exc:
        return "create: " + _error(exc.value)
    with sock, instance_network.instance_network() as net:
        return _stream_steps([lambda: sock.start_bind(net, _v6(0, **fields)), sock.finish_bind], "net")


def _connect6(flow_info: int) -> str:
    try:
        sock = tcp_create_socket.create_tcp_socket(network.IpAddressFamily.IPV6)
    except Err as exc:
        return "create: " + _error(exc.value)
    with sock, instance_network.instance_network() as net:
        try:
            sock.start_connect(net, _v6(9, flow_info=flow_info))  # nothing listens on port 9
        except Err as exc:
            return "start-connect: " + _error(exc.value)
        while True:
            try:
                rx, tx = sock.finish_connect()
            except Err as exc:
                if exc.value != network.ErrorCode.WOULD_BLOCK:
                    return "finish-connect: " + _error(exc.value)
                with sock.subscribe() as ready:
                    poll.poll([ready])
                continue
            rx.__exit__(None, None, None)
            tx.__exit__(None, None, None)
            return "finish-connect: ok()"


def _send6(flow_info: int) -> str:
    try:
        sock = udp_create_socket.create_udp_socket(network.IpAddressFamily.IPV6)
    except Err as exc:
        return "create: " + _error(exc.value)
    with sock, instance_network.instance_network() as net:
        try:
            sock.start_bind(net, _v6(0))
            sock.finish_bind()
        except Err as exc:
            return "bind: " + _error(exc.value)
        incoming, outgoing = sock.stream(None)
        with incoming, outgoing:
            datagram = udp.OutgoingDatagram(data=b"x", remote_address=_v6(9, flow_info=flow_info))
            return _outcome(lambda: (outgoing.check_send(), outgoing.send([datagram]))[1])


# ------------------------------------------------------------------ table

FUNCS = {
    # wasi:io/streams on stdout / stdin (stdin is empty in the tests)
    "stdout.check-write": lambda v: _stdout(lambda out: out.check_write()),
    "file-output.check-write": lambda v: _file_output(v, None),
    "stdout.write-zeroes": lambda v: _stdout(lambda out: out.write_zeroes(v)),
    "stdout.blocking-write-zeroes-and-flush": lambda v: _stdout(lambda out: out.blocking_write_zeroes_and_flush(v)),
    "stdout.splice-stdin": lambda v: _splice_stdin(False, v),
    "stdout.blocking-splice-stdin": lambda v: _splice_stdin(True, v),
    "stdout.splice-file": lambda v: _splice_file(False, v),
    "stdout.blocking-splice-file": lambda v: _splice_file(True, v),
    "stdin.read": lambda v: _stdin(lambda src: src.read(v)),
    "stdin.blocking-read": lambda v: _stdin(lambda src: src.blocking_read(v)),
    "stdin.skip": lambda v: _stdin(lambda src: src.skip(v)),
    "stdin.blocking-skip": lambda v: _stdin(lambda src: src.blocking_skip(v)),
    # wasi:io/streams on file streams
    "file-input.read": lambda v: _file_input(v, "read"),
    "file-input.skip": lambda v: _file_input(v, "skip"),
    "file-input.blocking-read": lambda v: _file_input(v, "blocking-read"),
    "file-input.blocking-skip": lambda v: _file_input(v, "blocking-skip"),
    "file-output.write-zeroes": lambda v: _file_output(v, False),
    "file-output.blocking-write-zeroes-and-flush": lambda v: _file_output(v, True),
    # wasi:filesystem/types
    "descriptor.read-via-stream": _read_via_stream,
    "descriptor.write-via-stream": _write_via_stream,
    "descriptor.read.length": lambda v: _descriptor(lambda root, f: _read(f, v, 0)),
    "descriptor.read.offset": lambda v: _descriptor(lambda root, f: _read(f, 10, v)),
    "descriptor.write.offset": lambda v: _descriptor(lambda root, f: f.write(b"abc", v)),
    "descriptor.set-size": lambda v: _descriptor(lambda root, f: f.set_size(v)),
    "descriptor.advise.offset": lambda v: _descriptor(lambda root, f: f.advise(v, 10, types.Advice.NORMAL)),
    "descriptor.advise.length": lambda v: _descriptor(lambda root, f: f.advise(0, v, types.Advice.NORMAL)),
    "descriptor.set-times.seconds": lambda v: _descriptor(
        lambda root, f: f.set_times(_timestamp(v), types.NewTimestamp_NoChange())
    ),
    "descriptor.set-times.nanoseconds": lambda v: _descriptor(
        lambda root, f: f.set_times(types.NewTimestamp_NoChange(), _timestamp(0, v))
    ),
    "descriptor.set-times-at.seconds": lambda v: _descriptor(
        lambda root, f: root.set_times_at(types.PathFlags(0), "f", _timestamp(v), types.NewTimestamp_NoChange())
    ),
    "descriptor.set-times-at.nanoseconds": lambda v: _descriptor(
        lambda root, f: root.set_times_at(types.PathFlags(0), "f", types.NewTimestamp_NoChange(), _timestamp(0, v))
    ),
    # wasi:clocks, wasi:io/poll
    "subscribe-duration": lambda v: _subscribe("duration", v),
    "subscribe-instant": lambda v: _subscribe("instant", v),
    "poll.subscribe-duration": _poll_duration,
    # wasi:random
    "get-random-bytes": lambda v: _outcome(lambda: wasi_random.get_random_bytes(v)),
    "get-insecure-random-bytes": lambda v: _outcome(lambda: insecure.get_insecure_random_bytes(v)),
    # wasi:sockets
    "tcp.set-listen-backlog-size": lambda v: _tcp(lambda s: s.set_listen_backlog_size(v)),
    "tcp.set-keep-alive-idle-time": lambda v: _tcp(lambda s: s.set_keep_alive_idle_time(v)),
    "tcp.set-keep-alive-interval": lambda v: _tcp(lambda s: s.set_keep_alive_interval(v)),
    "tcp.set-keep-alive-count": lambda v: _tcp(lambda s: s.set_keep_alive_count(v)),
    "tcp.set-hop-limit": lambda v: _tcp(lambda s: s.set_hop_limit(v)),
    "tcp.set-receive-buffer-size": lambda v: _tcp(lambda s: s.set_receive_buffer_size(v)),
    "tcp.set-send-buffer-size": lambda v: _tcp(lambda s: s.set_send_buffer_size(v)),
    "udp.set-unicast-hop-limit": lambda v: _udp(lambda s: s.set_unicast_hop_limit(v)),
    "udp.set-receive-buffer-size": lambda v: _udp(lambda s: s.set_receive_buffer_size(v)),
    "udp.set-send-buffer-size": lambda v: _udp(lambda s: s.set_send_buffer_size(v)),
    "tcp.bind.ipv6-flow-info": lambda v: _bind6("tcp", flow_info=v),
    "tcp.bind.ipv6-scope-id": lambda v: _bind6("tcp", scope_id=v),
    "tcp.connect.ipv6-flow-info": _connect6,
    "udp.bind.ipv6-flow-info": lambda v: _bind6("udp", flow_info=v),
    "udp.bind.ipv6-scope-id": lambda v: _bind6("udp", scope_id=v),
    "udp.send.ipv6-flow-info": _send6,
    "udp.receive": lambda v: _udp_streams(v, "receive"),
    "udp.send": lambda v: _udp_streams(v, "send"),
}


class WitWorld(wit_world.WitWorld):
    def probe(self, name: str, value: int) -> str:
        return FUNCS[name](value)

    def functions(self) -> str:
        return ",".join(FUNCS)

    def flood(self, total: int, chunk: int, respect_permit: bool) -> str:
        written = 0
        with stdout.get_stdout() as out:
            while written < total:
                try:
                    permit = out.check_write()
                except Err as exc:
                    return f"check-write after {written}: {_error(exc.value)}"
                size = min(chunk, total - written)
                if respect_permit:
                    size = min(size, permit)
                try:
                    out.write(b"\0" * size)
                except Err as exc:
                    return f"write after {written}: {_error(exc.value)}"
                written += size
        return f"wrote {written}"

    def hoard_sockets(self, limit: int) -> str:
        outcome = "no failure"
        while len(_HOARD) < limit:
            try:
                _HOARD.append(tcp_create_socket.create_tcp_socket(IPV4))
            except Err as exc:
                outcome = _error(exc.value)
                break
        count = len(_HOARD)
        for sock in _HOARD:
            sock.__exit__(None, None, None)
        _HOARD.clear()
        after = _tcp(lambda s: None)
        return f"{count} {outcome}; after release: {after}"
