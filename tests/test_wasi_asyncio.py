"""WASI 0.2's blocking calls under asyncio (issue #13 item 5): they wait on the loop, not in the thread.

The guest is a WAT component importing ``wasi:io/poll``, ``monotonic-clock``,
``wasi:io/streams`` and ``wasi:cli/stdin`` directly.  Concurrency is shown
structurally, never by a stopwatch: a ticker coroutine keeps ticking while
guests block, both guests are seen blocked at once, a coroutine writes the
bytes a guest's blocking read then returns.  A safety-net thread writes
other bytes much later, so a loop that did block fails the test instead of
hanging it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
from typing import Any, Optional

import pytest
import wasmtime

import wasmcomponent
from wasmcomponent import Component, ComponentTrap, Linker
from wasmcomponent.types.values import Record, Variant
from wasmcomponent.wasi import WasiConfig, io, wasi_ctx

GUEST = r"""
(component $C
  (import "wasi:io/poll@0.2.0" (instance $poll
    (export "pollable" (type $p (sub resource)))
    (export "[method]pollable.block" (func (param "self" (borrow $p))))
    (export "poll" (func (param "in" (list (borrow $p))) (result (list u32))))))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
    (alias outer $C $pollable (type $po))
    (export "pollable" (type $p (eq $po)))
    (export "subscribe-duration" (func (param "when" u64) (result (own $p))))))
  (import "wasi:io/error@0.2.0" (instance $ierr (export "error" (type (sub resource)))))
  (alias export $ierr "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer $C $error (type $e))
    (export "error" (type $err (eq $e)))
    (export "input-stream" (type $in (sub resource)))
    (type $stream-error (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $se (eq $stream-error)))
    (export "[method]input-stream.blocking-read"
      (func (param "self" (borrow $in)) (param "len" u64) (result (result (list u8) (error $se)))))))
  (alias export $streams "input-stream" (type $input-stream))
  (import "wasi:cli/stdin@0.2.0" (instance $stdin
    (alias outer $C $input-stream (type $i))
    (export "input-stream" (type $in (eq $i)))
    (export "get-stdin" (func (result (own $in))))))

  (alias export $poll "[method]pollable.block" (func $poll.block))
  (alias export $poll "poll" (func $poll.poll))
  (alias export $clock "subscribe-duration" (func $clock.subscribe))
  (alias export $streams "[method]input-stream.blocking-read" (func $streams.read))
  (alias export $stdin "get-stdin" (func $stdin.get))

  (core module $Mem
    (memory (export "memory") 4)
    (global $heap (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $heap (i32.add (local.get $p) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "memory" (core memory $memory))
  (alias core export $mem "realloc" (core func $realloc))

  (core func $subscribe (canon lower (func $clock.subscribe)))
  (core func $block (canon lower (func $poll.block)))
  (core func $poll (canon lower (func $poll.poll) (memory $memory) (realloc $realloc)))
  (core func $get-stdin (canon lower (func $stdin.get)))
  (core func $read (canon lower (func $streams.read) (memory $memory) (realloc $realloc)))
  (core func $drop-poll (canon resource.drop $pollable))
  (core func $drop-in (canon resource.drop $input-stream))

  (core module $Main
    (import "mem" "memory" (memory 1))
    (import "host" "subscribe" (func $subscribe (param i64) (result i32)))
    (import "host" "block" (func $block (param i32)))
    (import "host" "poll" (func $poll (param i32 i32 i32)))
    (import "host" "get-stdin" (func $get-stdin (result i32)))
    (import "host" "read" (func $read (param i32 i64 i32)))
    (import "host" "drop-poll" (func $drop-poll (param i32)))
    (import "host" "drop-in" (func $drop-in (param i32)))
    ;; block on a pollable ready in ns nanoseconds
    (func (export "sleep-block") (param i64)
      (local $p i32)
      (local.set $p (call $subscribe (local.get 0)))
      (call $block (local.get $p))
      (call $drop-poll (local.get $p)))
    ;; poll a list of n copies of one such pollable; the number of ready entries
    (func (export "sleep-poll") (param i64 i32) (result i32)
      (local $p i32) (local $i i32)
      (local.set $p (call $subscribe (local.get 0)))
      (block $done (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get 1)))
        (i32.store (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2))) (local.get $p))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
      (call $poll (i32.const 64) (local.get 1) (i32.const 8))
      (call $drop-poll (local.get $p))
      (i32.load (i32.const 12)))
    ;; blocking-read of stdin: the bytes (none for an error)
    (func (export "read-stdin") (param i64) (result i32)
      (local $s i32)
      (local.set $s (call $get-stdin))
      (call $read (local.get $s) (local.get 0) (i32.const 16))
      (call $drop-in (local.get $s))
      (if (i32.ne (i32.load8_u (i32.const 16)) (i32.const 0))
        (then (i32.store (i32.const 20) (i32.const 0)) (i32.store (i32.const 24) (i32.const 0))))
      (i32.const 20)))
  (core instance $main (instantiate $Main
    (with "mem" (instance $mem))
    (with "host" (instance
      (export "subscribe" (func $subscribe))
      (export "block" (func $block))
      (export "poll" (func $poll))
      (export "get-stdin" (func $get-stdin))
      (export "read" (func $read))
      (export "drop-poll" (func $drop-poll))
      (export "drop-in" (func $drop-in))))))
  (func (export "sleep-block") (param "ns" u64) (canon lift (core func $main "sleep-block")))
  (func (export "sleep-poll") (param "ns" u64) (param "n" u32) (result u32)
    (canon lift (core func $main "sleep-poll")))
  (func (export "read-stdin") (param "len" u64) (result (list u8))
    (canon lift (core func $main "read-stdin") (memory $memory) (realloc $realloc)))
)
"""

MS = 1_000_000
ENGINE = wasmtime.Engine()
COMPONENT = Component(ENGINE, GUEST)


def make_store(cfg: Optional[WasiConfig] = None) -> wasmtime.Store:
    store = wasmtime.Store(ENGINE)
    store.set_wasi(cfg if cfg is not None else WasiConfig())
    return store


def linker() -> Linker:
    found = Linker(ENGINE)
    found.add_wasip2()
    return found


class Ticker:
    """A coroutine ticking every 10 ms; ``both`` counts the ticks seen while every watched call was pending."""

    def __init__(self, *watched: asyncio.Future[Any]) -> None:
        self.watched = watched
        self.ticks = 0
        self.both = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1
            if self.watched and not any(task.done() for task in self.watched):
                self.both += 1


def test_two_guests_blocking_on_clock_pollables_overlap_and_the_loop_keeps_running() -> None:
    async def main() -> tuple[Any, ...]:
        stores = [make_store(), make_store()]
        instances = [await linker().instantiate_async(store, COMPONENT) for store in stores]
        block = instances[0].get_func(stores[0], "sleep-block")
        poll = instances[1].get_func(stores[1], "sleep-poll")
        calls = (
            asyncio.ensure_future(block.call_async(stores[0], 200 * MS)),
            asyncio.ensure_future(poll.call_async(stores[1], 200 * MS, 3)),
        )
        ticker = Ticker(*calls)
        ticking = asyncio.ensure_future(ticker.run())
        try:
            results = await asyncio.gather(*calls)
        finally:
            ticking.cancel()
        return results, ticker, [i._state for i in instances]

    results, ticker, states = asyncio.run(main())
    assert results == [None, 3]  # the poll reports all three entries (one pollable) ready
    assert ticker.both >= 3  # both guests were blocked at once, the loop ticking meanwhile
    assert all(state.asyncio_mode and state.uses_async for state in states)


def test_one_store_two_calls_both_complete_while_the_loop_runs() -> None:
    async def main() -> tuple[list[Any], Ticker]:
        store = make_store()
        instance = await linker().instantiate_async(store, COMPONENT)
        block = instance.get_func(store, "sleep-block")
        ticker = Ticker()
        ticking = asyncio.ensure_future(ticker.run())
        try:
            results = await asyncio.gather(block.call_async(store, 100 * MS), block.call_async(store, 100 * MS))
        finally:
            ticking.cancel()
        return results, ticker

    results, ticker = asyncio.run(main())
    assert results == [None, None]
    assert ticker.ticks >= 3


def test_ready_pollables_return_at_once_and_virtual_clocks_jump() -> None:
    cfg = WasiConfig()
    cfg.deterministic()
    store = make_store(cfg)

    async def main() -> Any:
        instance = linker().instantiate(store, COMPONENT)  # inside a coroutine: asyncio mode too
        assert instance._state.asyncio_mode
        poll = instance.get_func(store, "sleep-poll")
        block = instance.get_func(store, "sleep-block")
        ready_now = await poll.call_async(store, MS, 2)  # a virtual millisecond: advanced at once
        await block.call_async(store, 3600 * 10**9)  # an hour of virtual time: no real wait
        return ready_now

    assert asyncio.run(main()) == 2
    assert wasi_ctx(store).clocks.monotonic_now() >= 3600 * 10**9


def test_an_empty_poll_list_traps_as_in_sync_mode() -> None:
    async def main() -> None:
        store = make_store()
        instance = await linker().instantiate_async(store, COMPONENT)
        await instance.get_func(store, "sleep-poll").call_async(store, 0, 0)

    with pytest.raises(ComponentTrap, match="empty poll list"):
        asyncio.run(main())
    store = make_store()
    instance = linker().instantiate(store, COMPONENT)
    with pytest.raises(ComponentTrap, match="empty poll list"):
        instance.get_func(store, "sleep-poll")(store, 0, 0)


class PipeStdin:
    """A ``sys.stdin`` stand-in whose descriptor is the read end of a pipe (``inherit_stdin`` reads it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False


def _stdin_config(kind: str, read_fd: int) -> tuple[WasiConfig, Any]:
    cfg = WasiConfig()
    if kind == "fd":
        cfg.inherit_stdin()
        return cfg, None
    reader = os.fdopen(read_fd, "rb", buffering=0, closefd=False)
    cfg.stdin_reader(reader)
    return cfg, reader


@pytest.mark.parametrize("kind", ["fd", "reader"])
def test_a_blocking_stdin_read_lets_another_coroutine_write_the_bytes(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(sys, "stdin", PipeStdin(read_fd))
    cfg, reader = _stdin_config(kind, read_fd)
    # If the loop were blocked, the writer coroutine could never run: this thread writes other
    # bytes much later, and the assertion fails instead of the test hanging.
    safety = threading.Timer(20.0, os.write, (write_fd, b"late"))
    safety.daemon = True
    safety.start()
    try:

        async def main() -> tuple[bytes, bool]:
            store = make_store(cfg)
            instance = await linker().instantiate_async(store, COMPONENT)
            read = instance.get_func(store, "read-stdin")
            call = asyncio.ensure_future(read.call_async(store, 100))
            for _ in range(5):
                await asyncio.sleep(0.01)
            pending_when_written = not call.done()
            os.write(write_fd, b"hello")
            return bytes(await call), pending_when_written

        data, pending_when_written = asyncio.run(main())
    finally:
        safety.cancel()
        os.close(write_fd)
        os.close(read_fd)
        if reader is not None:
            reader.close()
    assert data == b"hello"
    assert pending_when_written


def _pipe_fds(fd: int) -> int:
    """How many descriptors of this process refer to the pipe of ``fd`` (both ends share its inode)."""
    inode = os.fstat(fd).st_ino
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.stat(f"/proc/self/fd/{name}").st_ino == inode
        except OSError:
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_a_cancelled_wait_leaves_no_descriptor_or_thread_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(sys, "stdin", PipeStdin(read_fd))
    cfg = WasiConfig()
    cfg.inherit_stdin()
    threads = set(threading.enumerate())

    async def main() -> int:
        store = make_store(cfg)
        instance = await linker().instantiate_async(store, COMPONENT)
        read = instance.get_func(store, "read-stdin")
        block = instance.get_func(store, "sleep-block")
        before = _pipe_fds(read_fd)
        call = asyncio.ensure_future(read.call_async(store, 100))
        other = asyncio.ensure_future(block.call_async(make_store(), 3600 * 10**9))
        await asyncio.sleep(0.05)
        assert _pipe_fds(read_fd) == before + 1  # the read waits on a dup of the pipe
        call.cancel()
        other.cancel()
        await asyncio.gather(call, other, return_exceptions=True)
        return before

    try:
        before = asyncio.run(main())  # closing the loop cancels the host coroutines left waiting
        assert _pipe_fds(read_fd) == before
        assert not set(threading.enumerate()) - threads  # no thread started for the wait is left
    finally:
        os.close(write_fd)
        os.close(read_fd)


def test_sync_instantiation_keeps_the_sync_functions() -> None:
    cfg = WasiConfig()
    cfg.stdin_bytes(b"abc")
    store = make_store(cfg)
    instance = linker().instantiate(store, COMPONENT)
    assert instance._state.asyncio_mode is False
    assert instance._state.uses_async is False  # no fiber, no async runtime
    instance.get_func(store, "sleep-block")(store, 2 * MS)
    assert instance.get_func(store, "sleep-poll")(store, 2 * MS, 2) == 2
    assert bytes(instance.get_func(store, "read-stdin")(store, 2)) == b"ab"
    assert bytes(instance.get_func(store, "read-stdin")(store, 2)) == b"c"
    assert bytes(instance.get_func(store, "read-stdin")(store, 2)) == b""  # err(closed)


BLOCKING_PACKAGES = ("wasi:io/", "wasi:sockets/ip-name-lookup", "wasi:sockets/tcp")


def test_every_blocking_function_has_an_asyncio_variant() -> None:
    by_name = {iface.name: iface for iface in wasmcomponent.wasi.ctx.all_interfaces()}
    assert set(by_name["wasi:io/poll"].async_funcs) == {"poll", "[method]pollable.block"}
    assert set(by_name["wasi:io/streams"].async_funcs) == {
        "[method]input-stream.blocking-read",
        "[method]input-stream.blocking-skip",
        "[method]output-stream.blocking-write-and-flush",
        "[method]output-stream.blocking-flush",
        "[method]output-stream.blocking-write-zeroes-and-flush",
        "[method]output-stream.blocking-splice",
    }
    assert set(by_name["wasi:sockets/ip-name-lookup"].async_funcs) == {"resolve-addresses"}
    assert set(by_name["wasi:sockets/tcp"].async_funcs) == {"[method]tcp-socket.shutdown"}
    # the others wait through wasi:io's pollables and streams
    assert not any(iface.async_funcs for name, iface in by_name.items() if not name.startswith(BLOCKING_PACKAGES))
    assert io.POLL.async_funcs["poll"] is not io.POLL.funcs["poll"]


# ------------------------------------------------------------------ the HTTP client


def record_waits(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The waits the asyncio variants do from now on (``wasi.aio.wait_on_loop``'s arguments)."""
    from wasmcomponent.wasi import aio

    waits: list[Any] = []
    wait_on_loop = aio.wait_on_loop

    async def recorded(ctx: Any, wait: Any) -> None:
        waits.append(wait)
        await wait_on_loop(ctx, wait)

    monkeypatch.setattr(aio, "wait_on_loop", recorded)
    return waits


async def call_variant(iface: Any, name: str, *args: Any) -> Any:
    """Call the asyncio variant of ``name`` as an instance under asyncio does: await it when it waits."""
    outcome = iface.async_funcs[name](*args)
    return await outcome if inspect.isawaitable(outcome) else outcome


def test_http_client_waits_on_the_loop_for_a_server_on_the_same_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The response future and the body stream are waited on through the loop that serves the response.

    Were a wait blocking the loop, the server could not answer and the
    request would end with the first-byte timeout (10 s) instead.  The
    waits are for the client thread's word (``Signal``), not a poll every
    millisecond.
    """
    from wasmcomponent.wasi.http import client, types

    waits = record_waits(monkeypatch)

    cfg = WasiConfig()
    cfg.allow_outgoing_http()
    store = make_store(cfg)
    ctx = wasi_ctx(store)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(0.05)  # the guest is waiting on the response future meanwhile
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        await asyncio.sleep(0.05)  # and then on the body stream
        writer.write(b"world")
        await writer.drain()
        writer.close()

    async def main() -> tuple[int, bytes, int]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        ticker = Ticker()
        ticking = asyncio.ensure_future(ticker.run())
        try:
            req = types.outgoing_request_new(ctx, types.fields_new(ctx))
            types.outgoing_request_set_scheme(ctx, req, Variant("HTTP"))
            types.outgoing_request_set_authority(ctx, req, f"127.0.0.1:{port}")
            opts = types.request_options_new(ctx)
            types.TYPES.funcs["[method]request-options.set-first-byte-timeout"](ctx, opts, 10 * 10**9)
            future = client.handle(ctx, req, opts)
            pollable = types.future_incoming_response_subscribe(ctx, future)
            await call_variant(io.POLL, "[method]pollable.block", ctx, pollable)
            ctx.drop(pollable.rep)
            response = types.future_incoming_response_get(ctx, future).payload
            status = types.incoming_response_status(ctx, response)
            body = types.incoming_response_consume(ctx, response)
            stream = types.incoming_body_stream(ctx, body)
            data = b""
            while True:
                chunk = await call_variant(io.STREAMS, "[method]input-stream.blocking-read", ctx, stream, 100)
                if not isinstance(chunk, bytes):
                    break
                data += chunk
            ctx.drop(stream.rep)
            return status, data, ticker.ticks
        finally:
            ticking.cancel()
            server.close()

    status, data, ticks = asyncio.run(main())
    assert (status, data) == (200, b"helloworld")
    assert ticks >= 3
    polls = [w for w in waits if isinstance(w, io.Wait) and w.timeout != 0]  # (not the loop turns of reads)
    assert polls and all(w.signals for w in polls)  # each waits for the client thread's word


def test_a_name_lookup_runs_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``resolve-addresses`` of a domain: getaddrinfo (here a stand-in that waits for a coroutine) off the loop."""
    import ipaddress

    from wasmcomponent.wasi.sockets import lookup, network

    released = threading.Event()
    threads: list[threading.Thread] = []

    def slow_lookup(name: str) -> list[Any]:
        threads.append(threading.current_thread())
        answered = released.wait(20.0)  # a coroutine on the loop sets it (unless the loop is blocked)
        return [ipaddress.ip_address("192.0.2.1" if answered else "192.0.2.99")]

    monkeypatch.setattr(lookup, "lookup", slow_lookup)
    cfg = WasiConfig()
    cfg.allow_ip_name_lookup()
    ctx = wasi_ctx(make_store(cfg))

    async def release() -> None:
        await asyncio.sleep(0.02)
        released.set()

    async def main() -> Any:
        net = network.instance_network(ctx)
        resolving = call_variant(lookup.IP_NAME_LOOKUP, "resolve-addresses", ctx, net, "example.test")
        stream, _ = await asyncio.gather(resolving, release())
        return lookup.resolve_next_address(ctx, stream)

    assert asyncio.run(main()) == Variant("ipv4", (192, 0, 2, 1))
    assert threads and threads[0] is not threading.main_thread()
    # the sync function still looks up in the caller's thread
    released.clear()
    threading.Timer(0.02, released.set).start()
    stream = lookup.resolve_addresses(ctx, network.instance_network(ctx), "example.test")
    assert threads[1] is threading.main_thread()
    assert lookup.resolve_next_address(ctx, stream) == Variant("ipv4", (192, 0, 2, 1))


# ------------------------------------------------------------------ same answers as the sync functions


class Stuck(io.OutputStream):
    """Never grants anything; ready once ``opened`` (a coroutine opens it)."""

    def __init__(self, opened: bool) -> None:
        super().__init__()
        self.opened = opened

    def check_write(self) -> int:
        self.permit = 0
        return 0

    def ready(self) -> bool:
        return self.opened


def _stream_ctx() -> tuple[Any, Any, bytearray]:
    """A context with ten bytes of stdin and a six-byte stdout buffer; its ``Res`` and the buffer."""
    from wasmcomponent.wasi.ctx import Res

    cfg = WasiConfig()
    cfg.stdin_bytes(b"0123456789")
    buffer = cfg.stdout_buffer()
    cfg.max_buffer_bytes = 6
    return wasi_ctx(make_store(cfg)), Res, buffer


def _plain(value: Any) -> Any:
    """A WASI result without handle numbers (an error resource is compared by its message)."""
    if isinstance(value, Variant):
        return Variant(value.tag, _plain(value.payload))
    if hasattr(value, "rep"):
        return "error handle"
    return value


CASES = {
    "read": ("[method]input-stream.blocking-read", lambda ctx, res, cli: (cli.get_stdin(ctx), 4)),
    "read 0": ("[method]input-stream.blocking-read", lambda ctx, res, cli: (cli.get_stdin(ctx), 0)),
    "skip": ("[method]input-stream.blocking-skip", lambda ctx, res, cli: (cli.get_stdin(ctx), 3)),
    "write": ("[method]output-stream.blocking-write-and-flush", lambda ctx, res, cli: (cli.get_stdout(ctx), b"abc")),
    "write past the room": (
        "[method]output-stream.blocking-write-and-flush",
        lambda ctx, res, cli: (cli.get_stdout(ctx), b"abcdefgh"),
    ),
    "write too large": (
        "[method]output-stream.blocking-write-and-flush",
        lambda ctx, res, cli: (cli.get_stdout(ctx), b"x" * 4097),
    ),
    "zeroes": ("[method]output-stream.blocking-write-zeroes-and-flush", lambda ctx, res, cli: (cli.get_stdout(ctx), 4)),
    "flush": ("[method]output-stream.blocking-flush", lambda ctx, res, cli: (cli.get_stdout(ctx),)),
    "splice": (
        "[method]output-stream.blocking-splice",
        lambda ctx, res, cli: (cli.get_stdout(ctx), cli.get_stdin(ctx), 8),
    ),
    "splice gives up": (
        "[method]output-stream.blocking-splice",
        lambda ctx, res, cli: (ctx.own(Stuck(True), res.OUTPUT_STREAM), cli.get_stdin(ctx), 8),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_asyncio_variants_answer_as_the_sync_functions(case: str) -> None:
    from wasmcomponent.wasi import cli

    name, make_args = CASES[case]

    def outcome(call: Any) -> tuple[Any, ...]:
        ctx, res, buffer = _stream_ctx()
        args = make_args(ctx, res, cli)
        try:
            value = _plain(call(ctx, *args))
        except ComponentTrap as err:
            return "trap", str(err)
        return value, bytes(buffer), io.input_read(ctx, cli.get_stdin(ctx), 100)

    sync = outcome(io.STREAMS.funcs[name])
    off_loop = outcome(lambda ctx, *args: asyncio.run(call_variant(io.STREAMS, name, ctx, *args)))
    assert off_loop == sync


def test_a_trap_after_a_wait_is_the_same_trap() -> None:
    from wasmcomponent.wasi import cli

    ctx, res, _ = _stream_ctx()
    stuck = Stuck(False)
    out = ctx.own(stuck, res.OUTPUT_STREAM)

    async def main() -> None:
        splicing = asyncio.ensure_future(
            call_variant(io.STREAMS, "[method]output-stream.blocking-splice", ctx, out, cli.get_stdin(ctx), 8)
        )
        await asyncio.sleep(0.02)
        assert not splicing.done()  # waiting for the stream to be ready, the loop going on
        stuck.opened = True
        await splicing

    with pytest.raises(ComponentTrap, match="max blocking attempts exceeded"):
        asyncio.run(main())


# ------------------------------------------------------------------ sockets


def test_tcp_reads_and_flushes_wait_on_the_loop_for_a_peer_on_the_same_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blocking read waits for bytes a coroutine sends; a blocking flush and a shutdown for it to read.

    Were either blocking the loop, the peer could never act: a timer thread
    then shuts the socket down, and the test fails instead of hanging.  The
    flushes wait for the socket to be writable (not a look every millisecond).
    """
    import socket

    from wasmcomponent.wasi.sockets import network, tcp

    waits = record_waits(monkeypatch)

    cfg = WasiConfig()
    cfg.inherit_network()
    ctx = wasi_ctx(make_store(cfg))
    net = network.instance_network(ctx)
    server = tcp.create_tcp_socket(ctx, "ipv4")
    assert tcp.start_bind(ctx, server, net, Variant("ipv4", Record(port=0, address=(127, 0, 0, 1)))) is None
    assert tcp.finish_bind(ctx, server) is None
    assert tcp.start_listen(ctx, server) is None
    assert tcp.finish_listen(ctx, server) is None
    port = tcp.local_address(ctx, server).payload.port
    listening = tcp.subscribe(ctx, server)

    async def main() -> tuple[bytes, bytes, Any, bool]:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small buffers: the flush must wait
        client.setblocking(False)
        await asyncio.get_running_loop().sock_connect(client, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=client)
        assert await call_variant(io.POLL, "poll", ctx, [listening]) == [0]
        peer, rx, tx = tcp.accept(ctx, server)
        host_socket = ctx.get(peer, tcp.TcpSocket).sock
        host_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        safety = threading.Timer(20.0, host_socket.shutdown, (socket.SHUT_RDWR,))
        safety.daemon = True
        safety.start()
        try:
            reading = asyncio.ensure_future(call_variant(io.STREAMS, "[method]input-stream.blocking-read", ctx, rx, 10))
            await asyncio.sleep(0.02)
            assert not reading.done()
            writer.write(b"hello")
            await writer.drain()
            read = await reading
            # the guest writes more than the kernel holds: its flush waits until the peer has read
            permit = io.output_check_write(ctx, tx)
            assert io.output_write(ctx, tx, bytes(range(256)) * (permit // 256)) == io.OK_UNIT
            flushing = io.STREAMS.async_funcs["[method]output-stream.blocking-flush"](ctx, tx)
            waited = inspect.isawaitable(flushing)
            receiving = asyncio.ensure_future(reader.readexactly(permit))
            flushed = await flushing if waited else flushing
            received = await receiving
            # shutdown("send") sends what is pending first: it waits for the peer too
            permit = io.output_check_write(ctx, tx)
            assert io.output_write(ctx, tx, bytes(permit)) == io.OK_UNIT
            shutting = tcp.TCP.async_funcs["[method]tcp-socket.shutdown"](ctx, peer, "send")
            waited = waited and inspect.isawaitable(shutting)
            rest = asyncio.ensure_future(reader.read())  # to the end: the shutdown
            assert (await shutting if inspect.isawaitable(shutting) else shutting) is None
            assert len(await rest) == permit
            writer.close()
            return read, received[:512], flushed, waited
        finally:
            safety.cancel()

    read, received, flushed, waited = asyncio.run(main())
    assert read == b"hello"
    assert received == bytes(range(256)) * 2
    assert flushed == io.OK_UNIT
    assert waited  # the flush and the shutdown had to wait for the peer
    assert any(isinstance(w, io.Wait) and w.wfds for w in waits)
    assert not any(isinstance(w, io.Wait) and w.timeout == 1_000_000 for w in waits)  # no polling


def test_an_http_body_flush_waits_on_the_loop_for_its_consumer() -> None:
    """``blocking-flush`` of an outgoing body whose window is full waits until the consumer takes a chunk."""
    from wasmcomponent.wasi.ctx import Res
    from wasmcomponent.wasi.http.body import BodyOutput, BodySink, OutgoingBody

    ctx = wasi_ctx(make_store())
    sink = BodySink(capacity=8)
    stream = ctx.own(BodyOutput(OutgoingBody(sink, "request", None)), Res.OUTPUT_STREAM)
    assert io.output_check_write(ctx, stream) == 8
    assert io.output_write(ctx, stream, b"12345678") == io.OK_UNIT

    async def consume() -> Any:
        await asyncio.sleep(0.02)
        return sink.take(0)

    async def main() -> tuple[Any, Any, Any]:
        flushing = io.STREAMS.async_funcs["[method]output-stream.blocking-flush"](ctx, stream)
        assert inspect.isawaitable(flushing)  # the window is full: it waits
        flushed, taken = await asyncio.gather(flushing, consume())
        # the consumer goes away while the window is full: err(closed), as the sync flush answers
        assert io.output_check_write(ctx, stream) == 8
        assert io.output_write(ctx, stream, b"abcdefgh") == io.OK_UNIT
        closing = io.STREAMS.async_funcs["[method]output-stream.blocking-flush"](ctx, stream)
        asyncio.get_running_loop().call_later(0.02, sink.close)
        return flushed, taken, await closing

    assert asyncio.run(main()) == (io.OK_UNIT, b"12345678", io.ERR_CLOSED)


# ------------------------------------------------------------------ a componentize-py guest


def run_with_deadline(main: Any, seconds: float = 120.0) -> Any:
    """``asyncio.run(main())`` on a helper thread: a loop that blocks fails the test instead of hanging it."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(("ok", asyncio.run(main())))
        except BaseException as err:  # noqa: BLE001 - re-raised below
            box.append(("err", err))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"the event loop did not finish in {seconds} s (blocked?)"
    kind, value = box[0]
    if kind == "err":
        raise value
    return value


def test_componentize_py_guests_echo_through_a_server_on_the_same_loop() -> None:
    """Two sockets guests (tests/guests/sockets) under ``call_async``, echoed by a coroutine server.

    The guests connect, write 25 KB in blocking writes and read the echo in
    blocking reads; the echo server runs on the loop that drives them, so
    it can only answer if every one of their waits leaves the loop free.
    """
    from wasi_guests import build, engine

    path = build("sockets")
    eng = engine()
    component = Component.from_file(eng, str(path))
    payload = bytes(range(251)) * 100
    served: list[int] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        total = 0
        while data := await reader.read(65536):
            total += len(data)
            writer.write(data)
            await writer.drain()
        served.append(total)
        writer.close()

    async def main() -> list[str]:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        wasi_linker = Linker(eng)
        wasi_linker.add_wasip2()
        calls = []
        for _ in range(2):
            store = wasmtime.Store(eng)
            cfg = WasiConfig()
            cfg.allow_tcp()
            store.set_wasi(cfg)
            instance = await wasi_linker.instantiate_async(store, component)
            calls.append(instance.get_func(store, "tcp-echo").call_async(store, port, payload))
        try:
            return list(await asyncio.gather(*calls))
        finally:
            server.close()

    logs = run_with_deadline(main)
    for log in logs:
        assert log.splitlines()[0] == "connected"
        assert log.splitlines()[-1] == f"echoed {len(payload)} bytes, same True"
    assert served == [len(payload)] * 2


def test_a_signal_wakes_once_and_never_misses_a_change() -> None:
    signal = io.Signal()
    seen = signal.version
    signal.notify()  # a change after the look, before the registration
    assert not signal.watch(seen, lambda: None)
    woken: list[str] = []
    assert signal.watch(signal.version, lambda: woken.append("a"))
    signal.notify()
    signal.notify()
    assert woken == ["a"]  # once per registration

    def late() -> None:
        woken.append("late")

    assert signal.watch(signal.version, late)
    signal.unwatch(late)  # a cancelled waiter
    signal.notify()
    assert woken == ["a"]

def test_a_sync_call_of_an_instance_made_under_asyncio_uses_the_sync_functions() -> None:
    """An instance made in a coroutine, called synchronously there: WASI waits in the thread."""

    async def main() -> int:
        store = make_store()
        instance = linker().instantiate(store, COMPONENT)
        assert instance._state.asyncio_mode
        instance.get_func(store, "sleep-block")(store, 2 * MS)  # must wait: the sync function does
        return instance.get_func(store, "sleep-poll")(store, 2 * MS, 2)

    assert asyncio.run(main()) == 2
