"""Per-store WASI state: the resource table, and how interfaces are put in a linker.

* A :class:`WasiCtx` is built from a :class:`~.config.WasiConfig` the first
  time a WASI function runs in a store (``set_wasi(store, cfg)`` or
  ``store.set_wasi(cfg)`` attaches the configuration, wasmcomponent's or a
  native ``wasmtime.WasiConfig``; a store without one fails with
  :class:`WasiNotConfiguredError` on its first WASI call).
  It owns one table of host objects for every WASI resource type; a rep is
  the table key, unique across all types of the store.
* Every WASI resource type is one ``ResourceType.host(n)`` with a fixed ``n``
  (:class:`Res`), whatever interface name or 0.2.x version imports it, so a
  component importing ``wasi:io/streams@0.2.9`` and ``@0.2.12`` sees one type.
* The hottest stream methods also get direct core implementations
  (:func:`_direct`); ``WASMCOMPONENT_WASI_DIRECT=0`` when linking turns
  them off (see :func:`add_to_linker`).
* Each package module describes its interfaces as :class:`Interface` values:
  WIT function names mapped to ``f(ctx, *args)``.  :func:`add_to_linker`
  defines them under ``<name>@0.2.12``; the linker's semver lookup serves every
  ``0.2.y`` import from that.
* The functions that may block (``poll``, ``blocking-read``, ...) also have an
  asyncio variant (``Interface.async_funcs``, see :mod:`.aio`), the linker's
  ``async_variant``: instances made while an asyncio loop runs call it, so a
  guest under ``call_async`` waits without blocking the loop.
"""

from __future__ import annotations

import enum
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from .._engine import store_state
from ..errors import ComponentError, ComponentTrap
from ..runtime.resources import ResourceAny, ResourceHost, ResourceType

if TYPE_CHECKING:
    from ..runtime.linker import Linker
    from .config import WasiConfig

WASI_VERSION = "0.2.12"
# Set to "0" to link the hot stream methods through the generic path (see ``add_to_linker``).
DIRECT_ENV = "WASMCOMPONENT_WASI_DIRECT"
T = TypeVar("T")


class Res(enum.IntEnum):
    """Host type ids of the WASI resource types (``ResourceType.host(n)``)."""

    ERROR = 0x57A51001
    POLLABLE = 0x57A51002
    INPUT_STREAM = 0x57A51003
    OUTPUT_STREAM = 0x57A51004
    TERMINAL_INPUT = 0x57A51005
    TERMINAL_OUTPUT = 0x57A51006
    DESCRIPTOR = 0x57A51007
    DIRECTORY_ENTRY_STREAM = 0x57A51008
    NETWORK = 0x57A51009
    TCP_SOCKET = 0x57A5100A
    UDP_SOCKET = 0x57A5100B
    INCOMING_DATAGRAM_STREAM = 0x57A5100C
    OUTGOING_DATAGRAM_STREAM = 0x57A5100D
    RESOLVE_ADDRESS_STREAM = 0x57A5100E
    FIELDS = 0x57A5100F
    INCOMING_REQUEST = 0x57A51010
    OUTGOING_REQUEST = 0x57A51011
    REQUEST_OPTIONS = 0x57A51012
    RESPONSE_OUTPARAM = 0x57A51013
    INCOMING_RESPONSE = 0x57A51014
    INCOMING_BODY = 0x57A51015
    FUTURE_TRAILERS = 0x57A51016
    OUTGOING_RESPONSE = 0x57A51017
    OUTGOING_BODY = 0x57A51018
    FUTURE_INCOMING_RESPONSE = 0x57A51019


class WasiNotConfiguredError(ComponentError):
    """A WASI function ran in a store without a usable WASI configuration."""


def trap(message: str) -> ComponentTrap:
    """A guest-caused failure of a WASI call (WIT misuse): unwinds the guest as a trap."""
    return ComponentTrap(message)


class HostObject:
    """Base of every object behind a WASI resource handle.

    ``children`` counts live resources that depend on this one (pollables of
    a stream, for instance); dropping a parent with children traps.
    """

    __slots__ = ("children", "parent")

    # A type whose guest handle may be dropped while children still use it (a descriptor
    # with open streams, as in wasmtime): it is closed when its last child goes.
    outlives_handle = False

    def __init__(self) -> None:
        self.children = 0
        self.parent: Optional[HostObject] = None

    def adopt(self, child: HostObject) -> HostObject:
        """Make ``child`` depend on this object; returns ``child``."""
        child.parent = self
        self.children += 1
        return child

    def close(self) -> None:
        """Release host resources (file descriptors, sockets) when the handle is dropped."""


class DescriptorBudget:
    """How many host descriptors the guest of one store holds open (``WasiConfig.max_host_descriptors``).

    Every host object that keeps an OS descriptor for the guest (an opened file
    or directory, a socket, an HTTP connection) claims one unit before it opens
    it and releases it when it closes, so a guest can never take the process's
    descriptors away from the host or from other stores.

    >>> budget = DescriptorBudget(1)
    >>> budget.claim(), budget.claim()
    (True, False)
    >>> budget.release(); budget.claim()
    True
    """

    __slots__ = ("limit", "used", "_lock")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        # HTTP client threads release their unit while the guest's thread may claim one.
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """Take one unit; False (nothing taken) when the limit is reached."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def release(self) -> None:
        """Give back one unit taken by :meth:`claim`."""
        with self._lock:
            if self.used > 0:
                self.used -= 1


def _close_table(table: dict[int, HostObject], orphans: set[HostObject]) -> None:
    """Close every host object a dropped context still holds (their descriptors are not GC'd)."""
    for obj in [*table.values(), *orphans]:
        try:
            obj.close()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass
    table.clear()
    orphans.clear()


class WasiCtx:
    """The WASI state of one store: configuration-derived state and the resource table."""

    def __init__(self, config: WasiConfig) -> None:
        from .cli import CliState
        from .clocks import ClockState
        from .filesystem import FilesystemState
        from .random import RandomState
        from .sockets import SocketsState

        self.config = config
        self.table: dict[int, HostObject] = {}
        self.descriptors = DescriptorBudget(config.max_host_descriptors)
        # Dropped by the guest but still used by children (see HostObject.outlives_handle).
        self.orphans: set[HostObject] = set()
        weakref.finalize(self, _close_table, self.table, self.orphans)
        self._free: list[int] = []
        self._next = 1
        self.clocks = ClockState(config)
        self.random = RandomState(config)
        self.cli = CliState(config)
        self.fs = FilesystemState(config)
        self.sockets = SocketsState(config)

    # -------------------------------------------------------- table

    def push(self, obj: HostObject) -> int:
        """Store ``obj`` and return its rep."""
        free = self._free
        if free:
            rep = free.pop()
        else:
            rep = self._next
            if rep > self.config.max_resources:
                raise trap("resource table has no free entries")
            self._next = rep + 1
        self.table[rep] = obj
        return rep

    def own(self, obj: HostObject, ty: Res) -> ResourceHost:
        """A new owned handle of type ``ty`` to give to the guest."""
        return ResourceHost._new(self.push(obj), int(ty), True)

    def get(self, handle: Any, cls: type[T]) -> T:
        """The object behind a borrowed (or owned) handle received from the guest."""
        obj = self.table.get(rep_of(handle))
        if not isinstance(obj, cls):
            raise trap("unknown handle index")
        return obj

    def drop(self, rep: int) -> None:
        """The destructor of every WASI resource type."""
        obj = self.table.get(rep)
        if obj is None:
            raise trap(f"unknown handle index {rep}")
        if obj.children and not obj.outlives_handle:
            raise trap("resource has children")
        del self.table[rep]
        self._free.append(rep)
        parent = obj.parent
        if parent is not None:
            parent.children -= 1
            if parent.children == 0 and parent in self.orphans:
                self.orphans.discard(parent)
                parent.close()
        if obj.children:
            self.orphans.add(obj)
        else:
            obj.close()


def rep_of(handle: Any) -> int:
    """The rep of a handle a host function received (a ``ResourceAny``, ``ResourceHost``, or a bare rep).

    A bare ``int`` rep comes from the direct core implementations (:func:`_direct`),
    which look the borrowed handle up in the caller's table themselves.
    """
    if type(handle) is int:
        return handle
    if type(handle) is ResourceAny:
        host = handle._host
        if host is None:
            raise trap("resource handle already consumed")
        return host.lookup(handle).rep
    if isinstance(handle, ResourceHost):
        return handle.rep
    raise trap(f"expected a resource handle, got {type(handle).__name__}")


class WasiSlot:
    """What a store carries for WASI: the attached configuration and the built context."""

    __slots__ = ("config", "ctx", "__weakref__")

    def __init__(self) -> None:
        self.config: Optional[WasiConfig] = None
        self.ctx: Optional[WasiCtx] = None


def set_wasi(store: Any, config: Any) -> None:
    """Attach ``config`` to ``store``: WASI calls made in the store use it.

    ``config`` is a :class:`~.config.WasiConfig` or a native
    ``wasmtime.WasiConfig`` (whose options :mod:`.recorder` recorded as they
    were set).  The context is built from it on the first WASI call, so a
    store's configuration can be replaced until then.  ``store.set_wasi(cfg)``
    with either kind attaches it the same way.
    """
    import wasmtime

    from .config import WasiConfig

    if isinstance(config, WasiConfig):
        _attach(store, config)
    elif isinstance(config, wasmtime.WasiConfig):
        from .recorder import recorded

        set_native_wasi(store, recorded(config))
    else:
        raise TypeError(f"expected a WasiConfig, got {type(config).__name__}")


def set_native_wasi(store: Any, calls: Optional[list[tuple[str, tuple[Any, ...]]]]) -> None:
    """Attach the options recorded on a native ``wasmtime.WasiConfig`` (None: not recorded)."""
    from .recorder import replay

    _attach(store, replay(calls) if calls is not None else UNREADABLE_NATIVE_CONFIG)


def _attach(store: Any, config: Any) -> None:
    slot = store_state(store, WasiSlot)
    slot.config = config
    slot.ctx = None


# Marks a store given a native config whose options were set before wasmcomponent was imported.
UNREADABLE_NATIVE_CONFIG = object()


def wasi_ctx(store: Any) -> WasiCtx:
    """The WASI context of ``store``, built on first use.

    A store with no configuration cannot run WASI: rather than guess (and,
    say, throw the guest's output away), the first WASI call says so.
    """
    slot = store_state(store, WasiSlot)
    ctx = slot.ctx
    if ctx is None:
        config = slot.config
        if config is None:
            raise WasiNotConfiguredError(
                "this store has no WASI configuration: call `store.set_wasi(cfg)` with a"
                " `wasmtime.WasiConfig` or `wasmcomponent.wasi.WasiConfig` before calling a"
                " component that imports WASI"
            )
        if config is UNREADABLE_NATIVE_CONFIG:
            raise WasiNotConfiguredError(
                "the `wasmtime.WasiConfig` given to `store.set_wasi` was configured before"
                " `wasmcomponent` was imported, so its options cannot be read back: import"
                " wasmcomponent first, or use `wasmcomponent.wasi.WasiConfig`"
            )
        ctx = slot.ctx = WasiCtx(config)
    return ctx


# ------------------------------------------------------------------ interfaces

HostFunc = Callable[..., Any]


@dataclass
class Interface:
    """One WASI interface: its name without version, resources used, and functions."""

    name: str
    funcs: dict[str, HostFunc] = field(default_factory=dict)
    resources: dict[str, Res] = field(default_factory=dict)
    # Hot functions served by a direct core implementation (see ``_direct``).
    direct: frozenset[str] = frozenset()
    # What instances made under asyncio call instead of a blocking function (see ``wasi.aio``):
    # ``f(ctx, *args)`` returns the result, or an awaitable of it when it must wait.
    async_funcs: dict[str, HostFunc] = field(default_factory=dict)

    def func(self, wit_name: str) -> Callable[[HostFunc], HostFunc]:
        """Decorator registering ``f(ctx, *args)`` as the WIT function ``wit_name``."""

        def register(f: HostFunc) -> HostFunc:
            self.funcs[wit_name] = f
            return f

        return register

    def async_func(self, wit_name: str) -> Callable[[HostFunc], HostFunc]:
        """Decorator registering ``f(ctx, *args)`` as the asyncio variant of ``wit_name``."""

        def register(f: HostFunc) -> HostFunc:
            self.async_funcs[wit_name] = f
            return f

        return register


def _bind(f: HostFunc) -> Callable[..., Any]:
    """The linker's host function for ``f``: ``call(store, *args)`` runs ``f(ctx, *args)``.

    Finding a store's :class:`WasiSlot` (``store_state``) costs more than
    most WASI functions, so the last store's is remembered: keyed by the
    identity of the context pointer object that ``store._context()`` returns
    (the runtime passes every callback of a store the same one, and holding
    it keeps its identity from being reused), with a weak reference to the
    slot (a dropped store's WASI state is not kept alive).  Any other store
    takes the full lookup and becomes the remembered one.  The slot's
    ``ctx`` is read on every call, so ``set_wasi`` acts exactly as before.
    """
    slot_of = store_state
    # (pointer, weak slot), replaced as a whole: threads calling with other stores never mix two entries
    last: tuple[Any, Callable[[], Optional[WasiSlot]]] = (None, _no_slot)

    def call(store: Any, *args: Any) -> Any:
        nonlocal last
        pointer = store._context()
        remembered = last
        slot = remembered[1]() if pointer is remembered[0] else None
        if slot is None:
            slot = slot_of(store, WasiSlot)
            last = (pointer, weakref.ref(slot))
        ctx = slot.ctx
        if ctx is None:
            ctx = wasi_ctx(store)
        return f(ctx, *args)

    call.__name__ = getattr(f, "__name__", "wasi")
    return call


def _no_slot() -> Optional[WasiSlot]:
    return None


def _drop(store: Any, rep: int) -> None:
    wasi_ctx(store).drop(rep)


def all_interfaces() -> list[Interface]:
    """Every interface ``add_wasip2`` defines."""
    from . import cli, clocks, filesystem, http, io, random, sockets

    out: list[Interface] = []
    for module in (io, clocks, random, cli, filesystem, sockets, http):
        out.extend(module.INTERFACES)
    return out


def add_to_linker(
    linker: Linker,
    version: str = WASI_VERSION,
    *,
    direct: Optional[bool] = None,
    packages: Optional[tuple[str, ...]] = None,
) -> None:
    """Define every WASI 0.2 interface in ``linker`` (what ``Linker.add_wasip2`` does).

    ``packages`` (e.g. ``("http",)``) limits the definitions to those packages.

    ``direct`` chooses whether the hot methods of ``Interface.direct`` get
    their direct core implementations (:func:`_direct`); None reads the
    environment: ``WASMCOMPONENT_WASI_DIRECT=0`` turns them off, so that the
    generic lifting/lowering path serves every call (tests compare the two).
    """
    if direct is None:
        direct = os.environ.get(DIRECT_ENV, "1") != "0"
    with linker.root() as root:
        for iface in all_interfaces():
            if packages is not None and iface.name.split("/")[0].removeprefix("wasi:") not in packages:
                continue
            with root.add_instance(f"{iface.name}@{version}") as inst:
                for name, ty in iface.resources.items():
                    inst.add_resource(name, ResourceType.host(int(ty)), _drop)
                for name, f in iface.funcs.items():
                    fast = _direct(f) if direct and name in iface.direct else None
                    off_loop = iface.async_funcs.get(name)
                    if fast is None and off_loop is None:
                        inst.add_func(name, _bind(f))
                    else:
                        # ``_bind`` serves the asyncio variant too: it passes on what ``f`` returns,
                        # a value or an awaitable, and the runtime awaits only the latter.
                        inst._add_func_fast(name, _bind(f), fast, None if off_loop is None else _bind(off_loop))


# ------------------------------------------------------------------ direct core implementations


def _direct(f: HostFunc) -> Callable[[Any], Optional[Callable[..., Any]]]:
    """The ``FuncDefinition.fast`` factory of a hot WASI method (see ``Interface.direct``).

    For a signature ``(self: borrow<R>[, contents: list<u8>]) -> result<u64 | _, E>``
    it returns a core callback over ``(handle[, ptr, len], retptr)`` that does
    what lifting, calling ``f`` and lowering do, in the same order and with
    the same traps: ``may_leave``; the handle looked up and typed in the
    caller's table (an ``own`` is lent for the call); the list range checked
    (bounds, then the store's whole hostcall fuel, as a refuelled lift
    would) and copied out; ``f(ctx, rep, data)``; and the return pointer
    checked (alignment, bounds) before the ``ok`` case is stored.  Any other
    result value goes through the general lowerer.  No memoryview outlives a
    step that could run guest code.  Other signatures get None (the general
    path).  tests/test_wasi_fast_paths.py holds it to the generic path
    (``add_to_linker(direct=False)``) and to wasmtime, case by case.
    """

    def factory(env: Any) -> Optional[Callable[..., Any]]:
        import struct

        from ..abi.context import HOSTCALL_FUEL_EXHAUSTED, LIST_ELEMENT_FUEL
        from ..runtime.handles import RuntimeResource, cannot_leave, unknown_handle, wrong_type
        from ..types import abi, model
        from .io import OK_UNIT

        ft = env.type
        params = [t for _, t in ft.params]
        result = ft.result
        if not params or not isinstance(params[0], model.BorrowType) or len(params) > 2:
            return None
        with_bytes = len(params) == 2
        if with_bytes and params[1] != model.ListType(model.U8):
            return None
        if not isinstance(result, model.ResultType) or result.ok not in (None, model.U64):
            return None
        cx, flags, state = env.cx, env.flags, env.state
        if cx.fused or cx.memory is None:
            return None
        ok_u64 = result.ok is not None
        size, align = abi.elem_size(result), abi.alignment(result)
        offset = abi.payload_offset(result)
        pack_u64 = struct.Struct("<Q").pack_into
        identity = params[0].resource
        handles, table, resources, memory = cx.handles, cx.table, cx.resources, cx.memory
        fuel_source = cx.fuel_source
        lower_results = env.compiled.lower_results
        slot = store_state(state.store, WasiSlot)
        store = state.store
        mask = 0xFFFFFFFF

        def lower(value: Any, flat: tuple[Any, ...]) -> None:
            # The ``ok`` case stored directly, after ``check_pointer``'s checks (same messages).
            if (type(value) is int and 0 <= value <= 0xFFFFFFFFFFFFFFFF) if ok_u64 else value is OK_UNIT:
                mv = memory.view()
                ptr = flat[-1] & mask
                if ptr % align:
                    cx.trap("param-align", align=align)
                if ptr + size > len(mv):
                    cx.trap("param-bounds")
                mv[ptr] = 0
                if ok_u64:
                    pack_u64(mv, ptr + offset, value)
                return
            flags.may_leave = False
            try:
                lower_results(cx, value, flat)
            finally:
                flags.may_leave = True

        def call(*flat: Any) -> None:
            if not flags.may_leave:
                raise cannot_leave()
            rt = resources.get(identity)
            if rt.__class__ is not RuntimeResource:
                rt = handles.resource(identity)
            # ``table.typed`` inlined
            index = flat[0] & mask
            array = table.array
            handle = array[index] if 0 < index < len(array) else None
            if handle is None:
                raise unknown_handle(index)
            if handle.resource.key != rt.key:
                raise wrong_type(index)
            rep = handle.rep
            if with_bytes:
                # ``check_list_range`` for ``list<u8>`` (bounds, then hostcall fuel) and the copy
                mv = memory.view()
                ptr = flat[1] & mask
                length = flat[2] & mask
                if ptr + length > len(mv):
                    cx.trap("list-bounds")
                fuel = None if fuel_source is None else fuel_source.hostcall_fuel
                if fuel is not None and length * LIST_ELEMENT_FUEL > fuel:
                    raise ComponentTrap(HOSTCALL_FUEL_EXHAUSTED)
                args: tuple[Any, ...] = (rep, bytes(mv[ptr : ptr + length]))
                del mv
            else:
                args = (rep,)
            own = handle.own
            if own:
                handle.lends += 1
            try:
                ctx = slot.ctx
                if ctx is None:
                    ctx = wasi_ctx(store)
                value = f(ctx, *args)
            finally:
                if own:
                    handle.lends -= 1
            lower(value, flat)

        return call

    return factory
