"""The wasi_fuzz guest: performs the raw WASI 0.2 calls that fuzz/fuzz_wasi.py draws.

The host sends a whole sequence in one ``run`` call (one component call per
sequence keeps sequences cheap); each op names a function of ``ops.OPS`` and
carries its arguments.  Integers go to the host unchanged (a u64 of 2**64-1
stays 2**64-1), except where the binding type is narrower (u8, u32: masked)
or where the guest has to build the value itself (``buf``: a buffer of that
many bytes, capped, since it lives in guest memory).

Every outcome is recorded: ``ok``, ``err:<code>`` (a WASI error result),
``guest:<exception>`` (the bindings refused, e.g. a method of a dropped
resource), or ``skip`` (nothing to call it on, or a call that could block
forever, see below).  A trap ends the whole call; the host then makes a new
instance.  Every handle still held is dropped before ``run`` returns, so one
sequence leaves nothing behind for the next.

Calls that may block forever are not made: ``pollable.block`` and ``poll``
run only when a pollable that is ready by construction takes part (one of
a file or stdio stream, or a clock pollable due within 1 ms); a far-future
clock pollable or a socket's pollable is only asked ``ready``.  Blocking
stream calls are safe because no stream here waits on a peer: files, stdio
with bytes or closed stdin, and no socket ever connects (the host refuses every address, or sockets altogether).
"""

import weakref

import wit_world
from componentize_py_types import Err
from ops import DROPPED, OPS, RECENT, TABLES
from wit_world.imports import (
    environment,
    error,
    insecure,
    insecure_seed,
    instance_network,
    monotonic_clock,
    network,
    poll,
    preopens,
    random,
    stderr,
    stdin,
    stdout,
    streams,
    tcp,
    tcp_create_socket,
    terminal_stderr,
    terminal_stdin,
    terminal_stdout,
    types,
    udp,
    udp_create_socket,
    wall_clock,
)

BUFFER_CAP = 1 << 20  # a guest-made buffer never exceeds this (guest memory)
SAFE_WAIT_NS = 1_000_000  # clock pollables due within this are safe to block on
MASK8, MASK16, MASK32 = 0xFF, 0xFFFF, 0xFFFF_FFFF


class Skip(Exception):
    """The op has nothing to act on, or could block forever."""


def _describe(exc: Err) -> str:
    value = exc.value
    if isinstance(value, streams.StreamError_Closed):
        return "err:closed"
    if isinstance(value, streams.StreamError_LastOperationFailed):
        return "err:last-operation-failed"
    name = getattr(value, "name", None)
    return "err:" + (name.lower().replace("_", "-") if name else type(value).__name__)


CLASSES = {
    "desc": types.Descriptor,
    "dirs": types.DirectoryEntryStream,
    "in": streams.InputStream,
    "out": streams.OutputStream,
    "poll": poll.Pollable,
    "err": error.Error,
    "tcp": tcp.TcpSocket,
    "udp": udp.UdpSocket,
    "net": network.Network,
}


DROPPERS: dict = {}  # table -> (drop function, resource type index), learnt from real objects


def forge(table: str, handle: int, droppable: bool = False) -> object:
    """An object of ``table``'s resource class around a handle number of our choosing.

    The bindings pass ``handle`` to the host as it is, which is how a guest
    reaches the host with a stale, foreign-typed or never-issued handle.  Its
    finalizer does nothing (nothing drops it behind our back at a garbage
    collection) unless it is made ``droppable`` for an explicit drop, which
    needs the drop function and type index of a real object of that class.
    """
    cls = CLASSES[table]
    value = cls.__new__(cls)
    value.handle = handle & MASK32
    if droppable:
        if table not in DROPPERS:
            raise Skip
        drop, type_index = DROPPERS[table]
        value.finalizer = weakref.finalize(value, drop, type_index, value.handle)
    else:
        value.finalizer = weakref.finalize(value, _nothing)
    return value


def _nothing() -> None:
    pass


def _learn(table: str, value: object) -> None:
    if table not in DROPPERS:
        try:
            _obj, drop, args, _kwargs = value.finalizer.peek()
            DROPPERS[table] = (drop, args[0])
        except (AttributeError, IndexError, TypeError, ValueError):
            pass


class State:
    """The handles of one sequence, by table, and the numbers of those already dropped."""

    def __init__(self) -> None:
        self.tables: dict = {name: [] for name in TABLES}
        self.safe: list = []  # parallel to tables["poll"]: ready by construction
        self.dropped: list = []  # handle numbers

    def add(self, table: str, value: object, safe: bool = False) -> None:
        _learn(table, value)
        self.tables[table].append(value)
        if table == "poll":
            self.safe.append(safe)

    def pick(self, table: str, slot: int, droppable: bool = False) -> object:
        """The object in ``slot``; past ``DROPPED`` a forged one (a dropped handle, or any number)."""
        if slot >= DROPPED:
            if slot < 2 * DROPPED and self.dropped:
                return forge(table, self.dropped[slot % len(self.dropped)], droppable)
            return forge(table, slot - 2 * DROPPED if slot >= 2 * DROPPED else slot, droppable)
        items = self.tables[table]
        if not items:
            raise Skip
        return items[self.index(items, slot)]

    @staticmethod
    def index(items: list, slot: int) -> int:
        """Slots count from the start, or from the end from ``RECENT`` on (the newest objects)."""
        if slot >= RECENT:
            return -1 - (slot - RECENT) % len(items)
        return slot % len(items)

    def pick_poll(self, slot: int) -> tuple:
        if slot >= DROPPED or not self.tables["poll"]:
            return self.pick("poll", slot), False
        index = self.index(self.tables["poll"], slot)
        return self.tables["poll"][index], self.safe[index]

    def drop(self, table: str, slot: int) -> None:
        if slot >= DROPPED:
            self.pick(table, slot, True).__exit__(None, None, None)  # forged: the host must refuse it
            return
        items = self.tables[table]
        if not items:
            raise Skip
        index = self.index(items, slot)
        value = items.pop(index)
        if table == "poll":
            self.safe.pop(index)
        self.dropped.append(value.handle)
        value.__exit__(None, None, None)

    def close_all(self) -> None:
        # children (pollables, streams) before their parents (descriptors, sockets)
        for table in ("poll", "err", "dirs", "in", "out", "tcp", "udp", "desc", "net"):
            items = self.tables[table]
            while items:
                items.pop().__exit__(None, None, None)
        self.safe.clear()
        self.dropped.clear()


class Args:
    """An op's arguments, consumed in the order of its kinds."""

    def __init__(self, state: State, ints: list, strs: list) -> None:
        self.state, self.ints, self.strs = state, ints, strs
        self.i = self.s = 0

    def int(self) -> int:
        value = self.ints[self.i] if self.i < len(self.ints) else 0
        self.i += 1
        return value

    def str(self) -> str:
        value = self.strs[self.s] if self.s < len(self.strs) else ""
        self.s += 1
        return value

    def take(self, kind: str) -> object:
        state = self.state
        if kind in ("desc", "desc2"):
            return state.pick("desc", self.int())
        if kind in ("dirs", "in", "out", "err", "tcp", "udp", "net"):
            return state.pick(kind, self.int())
        if kind == "poll":
            return state.pick_poll(self.int())
        if kind == "polls":
            count = self.int() % 6
            return [state.pick_poll(self.int()) for _ in range(count)]
        if kind in ("u64", "u32", "slot"):
            return self.int()
        if kind == "u8":
            return self.int() & MASK8
        if kind == "ts":
            tag, seconds, nanos = self.int() % 3, self.int(), self.int() & MASK32
            if tag == 0:
                return types.NewTimestamp_NoChange()
            if tag == 1:
                return types.NewTimestamp_Now()
            return types.NewTimestamp_Timestamp(wall_clock.Datetime(seconds=seconds, nanoseconds=nanos))
        if kind == "addr":
            family, port, flow, scope = self.int() % 2, self.int() & MASK16, self.int(), self.int()
            if family == 0:
                address = (127, 0, 0, 1) if port % 2 else (0, 0, 0, 0)
                return network.IpSocketAddress_Ipv4(network.Ipv4SocketAddress(port=port, address=address))
            return network.IpSocketAddress_Ipv6(
                network.Ipv6SocketAddress(
                    port=port, flow_info=flow & MASK32, address=(0, 0, 0, 0, 0, 0, 0, port % 2), scope_id=scope & MASK32
                )
            )
        if kind == "pf":
            return types.PathFlags(self.int() & 1)
        if kind == "of":
            return types.OpenFlags(self.int() & 0xF)
        if kind == "df":
            return types.DescriptorFlags(self.int() & 0x3F)
        if kind == "adv":
            return types.Advice(self.int() % 6)
        if kind == "fam":
            return network.IpAddressFamily(self.int() % 2)
        if kind == "shut":
            return tcp.ShutdownType(self.int() % 3)
        if kind == "table":
            return TABLES[self.int() % len(TABLES)]
        if kind == "buf":
            return bytes(min(self.int(), BUFFER_CAP))
        if kind in ("path", "text"):
            return self.str()
        raise ValueError(kind)


def _keep_error(state: State, exc: Err) -> None:
    if isinstance(exc.value, streams.StreamError_LastOperationFailed):
        state.add("err", exc.value.value)


def _subscribe_clock(state: State, pollable: object, due_in: int) -> None:
    state.add("poll", pollable, 0 <= due_in <= SAFE_WAIT_NS)


def perform(state: State, name: str, a: list) -> None:
    """Make the call ``name`` with arguments ``a``, recording what it returns in ``state``."""
    add = state.add
    # wasi:filesystem
    if name == "get-directories":
        for descriptor, _path in preopens.get_directories():
            add("desc", descriptor)
    elif name == "open-at":
        add("desc", a[0].open_at(a[1], a[2], a[3], a[4]))
    elif name == "read-via-stream":
        add("in", a[0].read_via_stream(a[1]))
    elif name == "write-via-stream":
        add("out", a[0].write_via_stream(a[1]))
    elif name == "append-via-stream":
        add("out", a[0].append_via_stream())
    elif name == "advise":
        a[0].advise(a[1], a[2], a[3])
    elif name == "sync-data":
        a[0].sync_data()
    elif name == "get-flags":
        a[0].get_flags()
    elif name == "get-type":
        a[0].get_type()
    elif name == "set-size":
        a[0].set_size(a[1])
    elif name == "set-times":
        a[0].set_times(a[1], a[2])
    elif name == "read":
        a[0].read(a[1], a[2])
    elif name == "write":
        a[0].write(a[1], a[2])
    elif name == "read-directory":
        add("dirs", a[0].read_directory())
    elif name == "sync":
        a[0].sync()
    elif name == "create-directory-at":
        a[0].create_directory_at(a[1])
    elif name == "stat":
        a[0].stat()
    elif name == "stat-at":
        a[0].stat_at(a[1], a[2])
    elif name == "set-times-at":
        a[0].set_times_at(a[1], a[2], a[3], a[4])
    elif name == "link-at":
        a[0].link_at(a[1], a[2], a[3], a[4])
    elif name == "readlink-at":
        a[0].readlink_at(a[1])
    elif name == "remove-directory-at":
        a[0].remove_directory_at(a[1])
    elif name == "rename-at":
        a[0].rename_at(a[1], a[2], a[3])
    elif name == "symlink-at":
        a[0].symlink_at(a[1], a[2])
    elif name == "unlink-file-at":
        a[0].unlink_file_at(a[1])
    elif name == "is-same-object":
        a[0].is_same_object(a[1])
    elif name == "metadata-hash":
        a[0].metadata_hash()
    elif name == "metadata-hash-at":
        a[0].metadata_hash_at(a[1], a[2])
    elif name == "read-directory-entry":
        a[0].read_directory_entry()
    elif name == "filesystem-error-code":
        types.filesystem_error_code(a[0])
    # wasi:io
    elif name == "input-read":
        a[0].read(a[1])
    elif name == "input-blocking-read":
        a[0].blocking_read(a[1])
    elif name == "input-skip":
        a[0].skip(a[1])
    elif name == "input-blocking-skip":
        a[0].blocking_skip(a[1])
    elif name == "input-subscribe":
        add("poll", a[0].subscribe(), True)
    elif name == "output-check-write":
        a[0].check_write()
    elif name == "output-write":
        a[0].write(a[1])
    elif name == "output-blocking-write-and-flush":
        a[0].blocking_write_and_flush(a[1])
    elif name == "output-flush":
        a[0].flush()
    elif name == "output-blocking-flush":
        a[0].blocking_flush()
    elif name == "output-subscribe":
        add("poll", a[0].subscribe(), True)
    elif name == "output-write-zeroes":
        a[0].write_zeroes(a[1])
    elif name == "output-blocking-write-zeroes-and-flush":
        a[0].blocking_write_zeroes_and_flush(a[1])
    elif name == "output-splice":
        a[0].splice(a[1], a[2])
    elif name == "output-blocking-splice":
        a[0].blocking_splice(a[1], a[2])
    elif name == "error-to-debug-string":
        a[0].to_debug_string()
    elif name == "pollable-ready":
        a[0][0].ready()
    elif name == "pollable-block":
        pollable, safe = a[0]
        if not safe:
            raise Skip
        pollable.block()
    elif name == "poll":
        chosen = a[0]
        if chosen and not any(safe for _p, safe in chosen):
            raise Skip
        poll.poll([p for p, _safe in chosen])  # an empty list is a boundary too (wasmtime traps)
    # wasi:clocks
    elif name == "monotonic-now":
        monotonic_clock.now()
    elif name == "monotonic-resolution":
        monotonic_clock.resolution()
    elif name == "subscribe-instant":
        due_in = a[0] - monotonic_clock.now()
        _subscribe_clock(state, monotonic_clock.subscribe_instant(a[0]), max(due_in, 0))
    elif name == "subscribe-duration":
        _subscribe_clock(state, monotonic_clock.subscribe_duration(a[0]), a[0])
    elif name == "wall-now":
        wall_clock.now()
    elif name == "wall-resolution":
        wall_clock.resolution()
    # wasi:random
    elif name == "get-random-bytes":
        random.get_random_bytes(a[0])
    elif name == "get-random-u64":
        random.get_random_u64()
    elif name == "get-insecure-random-bytes":
        insecure.get_insecure_random_bytes(a[0])
    elif name == "get-insecure-random-u64":
        insecure.get_insecure_random_u64()
    elif name == "insecure-seed":
        insecure_seed.insecure_seed()
    # wasi:cli
    elif name == "get-environment":
        environment.get_environment()
    elif name == "get-arguments":
        environment.get_arguments()
    elif name == "initial-cwd":
        environment.initial_cwd()
    elif name == "get-stdin":
        add("in", stdin.get_stdin())
    elif name == "get-stdout":
        add("out", stdout.get_stdout())
    elif name == "get-stderr":
        add("out", stderr.get_stderr())
    elif name == "get-terminals":
        for get in (
            terminal_stdin.get_terminal_stdin,
            terminal_stdout.get_terminal_stdout,
            terminal_stderr.get_terminal_stderr,
        ):
            terminal = get()
            if terminal is not None:
                terminal.__exit__(None, None, None)
    # wasi:sockets
    elif name == "instance-network":
        add("net", instance_network.instance_network())
    elif name == "create-tcp-socket":
        add("tcp", tcp_create_socket.create_tcp_socket(a[0]))
    elif name == "create-udp-socket":
        add("udp", udp_create_socket.create_udp_socket(a[0]))
    elif name == "tcp-start-bind":
        a[0].start_bind(a[1], a[2])
    elif name == "tcp-start-connect":
        a[0].start_connect(a[1], a[2])
    elif name == "tcp-start-listen":
        a[0].start_listen()
    elif name == "tcp-set-listen-backlog-size":
        a[0].set_listen_backlog_size(a[1])
    elif name == "tcp-set-keep-alive-idle-time":
        a[0].set_keep_alive_idle_time(a[1])
    elif name == "tcp-set-keep-alive-enabled":
        a[0].set_keep_alive_enabled(bool(a[1] & 1))
    elif name == "tcp-set-hop-limit":
        a[0].set_hop_limit(a[1])
    elif name == "tcp-set-receive-buffer-size":
        a[0].set_receive_buffer_size(a[1])
    elif name == "tcp-getters":
        _getters(
            a[0],
            ("local_address", "remote_address", "is_listening", "address_family", "keep_alive_enabled",
             "keep_alive_idle_time", "hop_limit", "receive_buffer_size"),
        )
    elif name == "tcp-shutdown":
        a[0].shutdown(a[1])
    elif name in ("tcp-subscribe", "udp-subscribe"):
        add("poll", a[0].subscribe(), False)
    elif name == "udp-start-bind":
        a[0].start_bind(a[1], a[2])
    elif name == "udp-stream":
        incoming, outgoing = a[0].stream(a[2] if a[1] & 1 else None)
        outgoing.__exit__(None, None, None)
        incoming.__exit__(None, None, None)
    elif name == "udp-getters":
        _getters(a[0], ("local_address", "remote_address", "address_family"))
    elif name == "drop":
        state.drop(a[0], a[1])
    else:
        raise ValueError(name)


def _getters(resource: object, names: tuple) -> None:
    for getter in names:
        try:
            getattr(resource, getter)()
        except Err:
            pass


class WitWorld(wit_world.WitWorld):
    def run(self, ops: list) -> list:
        state = State()
        outcomes: list = []
        try:
            for op in ops:
                if not 0 <= op.code < len(OPS):
                    outcomes.append("skip")
                    continue
                name, kinds = OPS[op.code]
                try:
                    args = Args(state, op.ints, op.strs)
                    values = [args.take(kind) for kind in kinds]
                    perform(state, name, values)
                    outcomes.append("ok")
                except Skip:
                    outcomes.append("skip")
                except Err as exc:
                    _keep_error(state, exc)
                    outcomes.append(_describe(exc))
                except Exception as exc:  # noqa: BLE001 - a refusal of the bindings is an outcome too
                    outcomes.append("guest:" + type(exc).__name__)
        finally:
            state.close_all()
        return outcomes
