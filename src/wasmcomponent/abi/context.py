"""Canonical options and the per-call lift/lower context.

A :class:`LiftLowerContext` carries what the Canonical ABI needs for one
lift or lower: the options (string encoding), the guest memory, the guest's
``realloc`` and the resource hooks.  It corresponds to the spec's
``LiftLowerContext`` (``design/mvp/canonical-abi/definitions.py``).

Pointer width
-------------
``cx.memory64`` selects the layout of the ``memory`` option (spec
``ptr_type``): the interpreters pass it to every layout function, read and
write 8-byte pointers and lengths, and mask guest pointers to ``cx.ptr_mask``
(``2**32 - 1`` or ``2**64 - 1``).  Range checks are made on unbounded Python
ints, so ``ptr + length`` never wraps: a range past ``2**64`` is simply out of
bounds, as wasmtime's overflow-checked adapters find it.

Memory access contract
----------------------
``memory`` is any object with ``view() -> memoryview`` (writable, format
``'B'``, covering the whole linear memory) and ``size() -> int``.  A view is
only valid until the next call into wasm: after every ``realloc`` call the
lift/lower code asks for a fresh view and never touches the old one.

``realloc`` is a Python callable ``(old_ptr, old_size, align, new_size) ->
int`` that calls the guest function (the runtime clears ``may_leave`` around
it).  Its result is checked here (:meth:`LiftLowerContext.reallocate`).

Trap messages
-------------
Wasmtime words the same failure differently at a host boundary
(``func/typed.rs``, ``values.rs``: "string pointer/length out of bounds of
memory") and inside a fused guest-to-guest adapter (``fact/trampoline.rs``:
"string content out-of-bounds").  ``fused=True`` selects the adapter wording;
every site has a key in :data:`HOST_MESSAGES` / :data:`FUSED_MESSAGES`.

Lazy references
---------------
With ``fused=True`` strings and lists of scalars are lifted as references
into the source memory (:mod:`.refs`) and copied/transcoded only when they
are lowered, after the destination's ``realloc``.  ``lazy_results`` and
``detach_refs`` control when such references must be detached (copied) at
lift time; see :mod:`.refs`.

Resources, streams, futures and error contexts
----------------------------------------------
Handle values go through hook methods: ``own``/``borrow`` through
:meth:`lift_own`, :meth:`lift_borrow`, :meth:`lower_own`,
:meth:`lower_borrow`; ``stream<T>``/``future<T>`` through
:meth:`lift_stream`, :meth:`lower_stream`, :meth:`lift_future`,
:meth:`lower_future` (spec ``lift_stream``/``lower_stream``, ...), and
``error-context`` through :meth:`lift_error_context` and
:meth:`lower_error_context`.  Each is one ``i32`` table index in core form
(flat or in memory); by default the hooks raise :class:`UnsupportedError`.
The runtime subclasses the context (or passes callables) to implement
them.  The code of a signature calls them only where its types hold such
values, so other signatures pay nothing for them.  Lift hooks must not call
into wasm (a lift holds one memory view for its whole duration); what a
lower hook returns is masked to 32 bits.

Stream and future buffers (:mod:`.buffers`) use the ``read-*``/``write-*``
messages: a *write* buffer is the one a writer's elements are lifted from,
a *read* buffer the one a reader's elements are stored into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, NoReturn, Protocol

from ..errors import ComponentTrap, UnsupportedError
from ..types.abi import ptr_type
from ..types.model import FutureType, ResourceIdentity, StreamType

__all__ = [
    "StringEncoding",
    "CanonicalOptions",
    "GuestMemoryLike",
    "Realloc",
    "LiftLowerContext",
    "BytearrayMemory",
    "HOST_MESSAGES",
    "FUSED_MESSAGES",
]

StringEncoding = Literal["utf8", "utf16", "latin1+utf16"]
STRING_ENCODINGS: tuple[str, ...] = ("utf8", "utf16", "latin1+utf16")


@dataclass(frozen=True, slots=True)
class CanonicalOptions:
    """The canonical options of one ``canon lift`` / ``canon lower``.

    Only ``string_encoding`` changes generated code; the ``has_*`` flags
    record which options were given (validation checks they are present
    when a type needs them).  ``memory64`` tells that the ``memory`` option
    names a 64-bit memory: pointers and lengths are then ``i64`` (see
    :mod:`wasmcomponent.types.abi`), and such signatures run on the
    interpreters (:mod:`.lift`, :mod:`.lower`).
    """

    string_encoding: StringEncoding = "utf8"
    has_memory: bool = False
    has_realloc: bool = False
    has_post_return: bool = False
    is_async: bool = False
    has_callback: bool = False
    memory64: bool = False

    def __post_init__(self) -> None:
        assert self.string_encoding in STRING_ENCODINGS, self.string_encoding


class GuestMemoryLike(Protocol):
    """What lifting and lowering need from a linear memory."""

    def view(self) -> memoryview: ...

    def size(self) -> int: ...


Realloc = Callable[[int, int, int, int], int]

HOST_MESSAGES: dict[str, str] = {
    "string-align": "string pointer not aligned to {align}",
    "string-bounds": "string pointer/length out of bounds of memory",
    "string-length": "string content out-of-bounds",
    "list-align": "list pointer is not aligned",
    "list-bounds": "list pointer/length out of bounds of memory",
    "map-align": "map pointer is not aligned",
    "map-bounds": "map pointer/length out of bounds of memory",
    "result-align": "return pointer not aligned",
    "result-bounds": "pointer out of bounds of memory",
    "param-align": "pointer not aligned",
    "param-bounds": "pointer out of bounds",
    "realloc-align": "realloc return: result not aligned",
    "realloc-bounds-string": "realloc return: beyond end of memory",
    "realloc-bounds-list": "realloc return: beyond end of memory",
    "realloc-bounds-tuple": "realloc return: beyond end of memory",
    "realloc-bounds-map": "realloc return: beyond end of memory",
    "discriminant": "discriminant {value} out of range [0..{count})",
    "char": "converted integer out of range for `char`",
    "utf8-invalid": "invalid utf-8 sequence of {length} bytes from index {index}",
    "utf8-incomplete": "incomplete utf-8 byte sequence from index {index}",
    "utf16": "unpaired surrogate found: {code:x}",
    # stream/future buffers (wasmtime futures_and_streams.rs, host side)
    "write-align": "write pointer not aligned",
    "write-bounds": "write pointer out of bounds of memory",
    "read-align": "read pointer not aligned",
    "read-bounds": "read pointer out of bounds of memory",
}

FUSED_MESSAGES: dict[str, str] = {
    **HOST_MESSAGES,
    "string-align": "unaligned pointer",
    "string-bounds": "string content out-of-bounds",
    "list-align": "unaligned pointer",
    "list-bounds": "list content out-of-bounds",
    "map-align": "unaligned pointer",
    "map-bounds": "list content out-of-bounds",
    "result-align": "unaligned pointer",
    "result-bounds": "out of bounds memory access",
    "param-align": "unaligned pointer",
    "param-bounds": "out of bounds memory access",
    "realloc-align": "unaligned pointer",
    "realloc-bounds-string": "string content out-of-bounds",
    "realloc-bounds-list": "list content out-of-bounds",
    "realloc-bounds-tuple": "out of bounds memory access",
    "realloc-bounds-map": "list content out-of-bounds",
    "discriminant": "invalid variant discriminant",
    "char": "invalid `char` bit pattern",
    "utf8-invalid": "invalid utf8 encoding",
    "utf8-incomplete": "invalid utf8 encoding",
    "utf16": "invalid utf16 encoding",
    # a guest-to-guest stream/future copy (wasmtime futures_and_streams.rs)
    "write-bounds": "write pointer out of bounds",
    "read-bounds": "read pointer out of bounds",
}


MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

HOSTCALL_FUEL_EXHAUSTED = (
    "too much data is being copied between the host and the guest: "
    "fuel allocated for hostcalls has been exhausted"
)
DEFAULT_HOSTCALL_FUEL = 128 << 20
# What lifting one list element costs, whatever its type: wasmtime-py lifts
# into `Val`s, and wasmtime charges `size_of::<Val>()` per element then.
LIST_ELEMENT_FUEL = 48


class LiftLowerContext:
    """Per-call state for lifting and lowering (spec ``LiftLowerContext``).

    >>> mem = BytearrayMemory(64)
    >>> cx = LiftLowerContext(CanonicalOptions(), mem, lambda o, os, a, n: 8)
    >>> cx.reallocate(0, 0, 4, 16, "list")
    8
    """

    __slots__ = (
        "options",
        "memory",
        "realloc",
        "fused",
        "messages",
        "string_encoding",
        "data",
        "lazy_results",
        "detach_refs",
        "fuel",
        "fuel_source",
        "memory64",
        "ptr_mask",
        "ptr_type",
    )

    def __init__(
        self,
        options: CanonicalOptions,
        memory: GuestMemoryLike | None = None,
        realloc: Realloc | None = None,
        *,
        fused: bool = False,
        data: Any = None,
    ) -> None:
        self.options = options
        self.string_encoding = options.string_encoding
        self.memory = memory
        self.realloc = realloc
        self.fused = fused
        self.messages = FUSED_MESSAGES if fused else HOST_MESSAGES
        self.data = data  # free slot for the runtime (instance, borrow scope, ...)
        # Set by the runtime when it lowers a fused call's results before the
        # callee's post-return: lifted results may then stay references.
        self.lazy_results = False
        # True while lifting values that must not refer to guest memory (see abi.refs).
        self.detach_refs = False
        # Hostcall fuel: what one host-side lift may still copy (None: no cap,
        # as in fused calls).  ``fuel_source.hostcall_fuel`` refills it per lift.
        self.fuel: int | None = None
        self.fuel_source: Any = None
        self.memory64 = options.memory64
        self.ptr_mask = MASK64 if options.memory64 else MASK32
        self.ptr_type = ptr_type(options.memory64)  # the core type of pointers and lengths

    # ------------------------------------------------------------- fuel

    def refuel(self) -> None:
        """Start a host-side lift with the store's whole hostcall fuel (wasmtime ``options.rs``)."""
        source = self.fuel_source
        self.fuel = None if source is None or self.fused else source.hostcall_fuel

    def charge(self, amount: int) -> None:
        """Spend ``amount`` bytes of hostcall fuel; trap when it runs out."""
        fuel = self.fuel
        if fuel is not None:
            fuel -= amount
            if fuel < 0:
                raise ComponentTrap(HOSTCALL_FUEL_EXHAUSTED)
            self.fuel = fuel

    # ------------------------------------------------------------- traps

    def trap(self, site: str, **fmt: Any) -> NoReturn:
        """Raise the :class:`ComponentTrap` for message ``site``."""
        raise ComponentTrap(self.messages[site].format(**fmt))

    # ------------------------------------------------------------ memory

    def view(self) -> memoryview:
        """A fresh writable view of the whole memory."""
        assert self.memory is not None, "canonical option `memory` missing"
        return self.memory.view()

    def check_pointer(self, ptr: int, size: int, align: int, kind: str) -> int:
        """Validate a guest pointer to ``size`` bytes aligned to ``align``; return it.

        ``kind`` names the message pair: ``result`` (returned pointer),
        ``param`` (spilled params or out-pointer given to a host import).
        """
        ptr &= self.ptr_mask
        if ptr % align:
            self.trap(f"{kind}-align", align=align)
        assert self.memory is not None, "canonical option `memory` missing"
        if ptr + size > self.memory.size():
            self.trap(f"{kind}-bounds")
        return ptr

    def reallocate(self, old_ptr: int, old_size: int, align: int, new_size: int, purpose: str) -> int:
        """Call the guest's realloc and check its result (wasmtime ``options.rs``).

        ``purpose`` (``string``, ``list``, ``map`` or ``tuple``) only selects the
        out-of-bounds message of a fused adapter.
        """
        assert self.realloc is not None, "canonical option `realloc` missing"
        ptr = self.realloc(old_ptr, old_size, align, new_size) & self.ptr_mask
        if ptr % align:
            self.trap("realloc-align")
        assert self.memory is not None, "canonical option `memory` missing"
        if ptr + new_size > self.memory.size():
            self.trap("realloc-bounds-" + purpose)
        return ptr

    def allocate(self, align: int, size: int, purpose: str) -> tuple[int, memoryview]:
        """``reallocate(0, 0, align, size, purpose)`` and a fresh view, with one memory query."""
        assert self.realloc is not None, "canonical option `realloc` missing"
        ptr = self.realloc(0, 0, align, size) & self.ptr_mask
        if ptr % align:
            self.trap("realloc-align")
        assert self.memory is not None, "canonical option `memory` missing"
        mv = self.memory.view()
        if ptr + size > len(mv):
            self.trap("realloc-bounds-" + purpose)
        return ptr, mv

    # --------------------------------------------------------- resources

    def lift_own(self, resource: ResourceIdentity, index: int) -> Any:
        """Take the owned handle ``index`` out of the guest's table."""
        raise UnsupportedError("resources are not supported yet")

    def lift_borrow(self, resource: ResourceIdentity, index: int) -> Any:
        """Lend the handle ``index`` to the callee for this call."""
        raise UnsupportedError("resources are not supported yet")

    def lower_own(self, resource: ResourceIdentity, value: Any) -> int:
        """Move ``value`` into the guest's table; return its index."""
        raise UnsupportedError("resources are not supported yet")

    def lower_borrow(self, resource: ResourceIdentity, value: Any) -> int:
        """Lend ``value`` to the guest for this call; return its index (or rep)."""
        raise UnsupportedError("resources are not supported yet")

    # ------------------------------------------ streams, futures, error contexts

    def lift_stream(self, t: StreamType, index: int) -> Any:
        """Take the readable end ``index`` of a ``stream`` out of the guest's table (spec ``lift_stream``)."""
        raise UnsupportedError("lifting `stream` values is not supported yet")

    def lower_stream(self, t: StreamType, value: Any) -> int:
        """Move the readable stream end ``value`` into the guest's table; return its index (spec ``lower_stream``)."""
        raise UnsupportedError("lowering `stream` values is not supported yet")

    def lift_future(self, t: FutureType, index: int) -> Any:
        """Take the readable end ``index`` of a ``future`` out of the guest's table (spec ``lift_future``)."""
        raise UnsupportedError("lifting `future` values is not supported yet")

    def lower_future(self, t: FutureType, value: Any) -> int:
        """Move the readable future end ``value`` into the guest's table; return its index (spec ``lower_future``)."""
        raise UnsupportedError("lowering `future` values is not supported yet")

    def lift_error_context(self, index: int) -> Any:
        """The error context at ``index`` in the guest's table (spec ``lift_error_context``; it stays there)."""
        raise UnsupportedError("lifting `error-context` values is not supported yet")

    def lower_error_context(self, value: Any) -> int:
        """Add the error context ``value`` to the guest's table; return its index (spec ``lower_error_context``)."""
        raise UnsupportedError("lowering `error-context` values is not supported yet")


class BytearrayMemory:
    """A ``bytearray``-backed memory for tests and tools.

    :meth:`relocate` swaps in a copy of the storage, so that any view taken
    before it is stale (writes through it are lost); toy reallocators call it
    to catch code that keeps a view across a call into wasm.
    """

    __slots__ = ("data",)

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)

    def view(self) -> memoryview:
        return memoryview(self.data)

    def size(self) -> int:
        return len(self.data)

    def relocate(self, new_size: int | None = None) -> None:
        """Move the storage (and optionally grow it to ``new_size`` bytes)."""
        data = bytearray(self.data)
        if new_size is not None and new_size > len(data):
            data.extend(bytes(new_size - len(data)))
        self.data = data
