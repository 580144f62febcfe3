"""Resource handles at run time: handle tables, call scopes and the resource intrinsics.

Model (spec ``CanonicalABI.md``, "Handle tables"; messages from wasmtime)
--------------------------------------------------------------------------
* Every runtime component instance has one :class:`HandleTable` for all its
  resource types: index 0 is reserved, a freed index is reused LIFO, an
  index beyond ``2**28 - 1`` traps.  Entries are :class:`ResourceHandle`\\ s:
  an ``own`` (with a lend count) or a ``borrow`` (with its :class:`CallScope`).
* A resource type at run time is a :class:`RuntimeResource`.  Guest-defined
  types are minted per instantiation by :func:`define_resource` (a fresh
  identity, so two instantiations never share a type); imported types are
  bound to the linker's ``ResourceType`` (and host destructor) when the
  instance state is created.  ``InstanceState.resources`` maps the plan's
  compile-time ``ResourceIdentity`` to the ``RuntimeResource``.
* A :class:`CallScope` is one call's borrow bookkeeping: the ``own`` handles
  it lent (their lend counts drop again when the call ends) and the number of
  ``borrow`` handles created for the callee, which must all be dropped before
  the callee returns ("borrow handles still remain at the end of the call").
* The host holds handles in a per-store :class:`HostTable`: the same kind of
  table plus a generation counter per slot, so that a stale ``ResourceAny``
  fails with an error instead of aliasing a newer resource.  Borrows lent to
  a Python host function live in the host table only for that call.

Passing handles goes through :class:`HandleContext`, the ``LiftLowerContext``
the runtime uses: its hooks move an ``own`` between a guest table and either
the host table (``ResourceAny``) or, inside a fused guest-to-guest adapter, a
:class:`ResourceTransfer` token that the callee side lowers straight into its
own table.  A ``borrow`` lowered into the instance that defines the resource
arrives as the bare rep (spec ``lower_borrow``).
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import TYPE_CHECKING, Any, Callable, Optional

import wasmtime

from .._engine import RawFunc, make_host_func, store_state
from ..abi.context import CanonicalOptions, GuestMemoryLike, LiftLowerContext, Realloc
from ..concurrent.builtins import ErrorContext
from ..concurrent.host import (
    FutureReader,
    StreamReader,
    host_future,
    host_future_async,
    host_stream,
    host_stream_async,
    is_iterable,
)
from ..concurrent.scheduler import scheduler_of
from ..concurrent.streams import SharedFuture, SharedStream, lift_end, lower_end
from ..errors import ComponentError, ComponentTrap, LinkError, UnsupportedError
from ..translate import plan as p
from ..types import model
from .linker import InstanceDefinition, ResourceDefinition
from .resources import ResourceAny, ResourceHost, ResourceType

if TYPE_CHECKING:
    from .instance import ComponentInstanceFlags, InstanceState

M32 = 0xFFFFFFFF
MAX_TABLE_LENGTH = 2**28 - 1

HostDtor = Callable[[Any, int], None]


# ------------------------------------------------------------------ traps and errors


def _trap(message: str, code: Optional[wasmtime.TrapCode] = None) -> ComponentTrap:
    return ComponentTrap(message, code)


def unknown_handle(index: int) -> ComponentTrap:
    return _trap(f"unknown handle index {index}")


def wrong_type(index: int) -> ComponentTrap:
    return _trap(
        f"handle index {index} used with the wrong type, "
        "expected guest-defined resource but found a different guest-defined resource"
    )


def still_borrowed() -> ComponentTrap:
    return _trap("cannot remove owned resource while borrowed")


def cannot_enter() -> ComponentTrap:
    return _trap("cannot enter component instance", wasmtime.TrapCode.CANNOT_ENTER_COMPONENT)


def cannot_leave() -> ComponentTrap:
    return _trap("cannot leave component instance", wasmtime.TrapCode.CANNOT_LEAVE_COMPONENT)


def uncaught_exception() -> ComponentTrap:
    return _trap("uncaught exception propagated out of component", wasmtime.TrapCode.UNCAUGHT_EXCEPTION)


def is_uncaught_exception(error: BaseException) -> bool:
    """Whether ``error`` is a wasm exception that escaped a core function."""
    return (
        isinstance(error, ComponentTrap)
        and error.trap_code is None
        and "thrown Wasm exception" in error.message
    )


# ------------------------------------------------------------------ resource types


class RuntimeResource:
    """A resource type as one instantiation sees it at run time.

    ``key`` decides type equality of handles: the fresh identity of a
    guest-defined type, the host key of a host type.  ``impl_table`` is the
    handle table of the defining component instance (None for host types).
    """

    __slots__ = ("type", "key", "is_host", "impl_table", "impl_flags", "host_dtor", "_dtor_def", "_state", "_dtor")

    def __init__(self, ty: ResourceType, key: object, is_host: bool) -> None:
        self.type = ty
        self.key = key
        self.is_host = is_host
        self.impl_table: Optional[HandleTable] = None
        self.impl_flags: Optional[ComponentInstanceFlags] = None
        self.host_dtor: Optional[HostDtor] = None
        self._dtor_def: Optional[p.CoreDef] = None
        self._state: Optional[InstanceState] = None
        self._dtor: Optional[Callable[[int], Any]] = None

    @classmethod
    def host(cls, ty: ResourceType, dtor: Optional[HostDtor]) -> RuntimeResource:
        """A type the linker supplies, with its Python destructor.

        Usually a host type (``ResourceType.host(n)``, keyed by ``n``); a type
        another instance defined (``Instance.get_resource``) is keyed by its
        identity, so that it equals no other type.
        """
        key = ty._identity.host_key
        found = cls(ty, ty._identity if key is None else key, True)
        found.host_dtor = dtor
        return found

    def guest_dtor(self) -> Optional[Callable[[int], Any]]:
        """The raw call of the guest destructor, resolved on first use."""
        if self._dtor is None and self._dtor_def is not None and self._state is not None:
            state = self._state
            self._dtor = RawFunc(state.store, state.core_def(self._dtor_def)).call
        return self._dtor

    def __repr__(self) -> str:
        return f"<RuntimeResource {self.type!r}>"


# ------------------------------------------------------------------ tables


class CallScope:
    """Borrow bookkeeping of one call (spec: the task's ``num_borrows`` and the subtask's lenders).

    A scope is made for every call whose type carries handles, so creating
    one must be cheap: the attributes start as class-level defaults (no
    ``__init__``, no lists) and the lists are made on first use.
    """

    lenders: Optional[list[ResourceHandle]] = None
    borrows: int = 0
    host_borrows: Optional[list[tuple[HostTable, int, int]]] = None

    def lend(self, handle: ResourceHandle) -> int:
        """Lend ``handle`` for this call and return its rep."""
        if handle.own:
            handle.lends += 1
            lenders = self.lenders
            if lenders is None:
                self.lenders = [handle]
            else:
                lenders.append(handle)
        return handle.rep

    def release_lends(self) -> None:
        """Give back every ``own`` this call borrowed from."""
        lenders = self.lenders
        if lenders:
            for handle in lenders:
                handle.lends -= 1
            lenders.clear()

    def exit_guest_call(self) -> None:
        """End of a call into a guest: its borrows must be gone (spec ``task.return``)."""
        if self.borrows > 0:
            raise _trap("borrow handles still remain at the end of the call")
        lenders = self.lenders
        if lenders:
            for handle in lenders:
                handle.lends -= 1
            lenders.clear()

    def exit_host_call(self) -> None:
        """End of a call into the host: its borrowed ``ResourceAny`` values expire."""
        host_borrows = self.host_borrows
        if host_borrows:
            for host, index, generation in host_borrows:
                host.expire(index, generation)
            host_borrows.clear()
        self.release_lends()

    def add_host_borrow(self, host: HostTable, index: int, generation: int) -> None:
        """Record a borrow lent to a host call, to expire when the call ends."""
        host_borrows = self.host_borrows
        if host_borrows is None:
            self.host_borrows = [(host, index, generation)]
        else:
            host_borrows.append((host, index, generation))


class ResourceHandle:
    """One table entry (spec ``ResourceHandle``)."""

    __slots__ = ("resource", "rep", "own", "scope", "lends")

    def __init__(self, resource: RuntimeResource, rep: int, own: bool, scope: Optional[CallScope] = None) -> None:
        self.resource = resource
        self.rep = rep
        self.own = own
        self.scope = scope
        self.lends = 0


class HandleTable:
    """A handle table (spec ``Table``): index 0 reserved, LIFO free list."""

    __slots__ = ("array", "free")

    def __init__(self) -> None:
        self.array: list[Optional[ResourceHandle]] = [None]
        self.free: list[int] = []

    def __len__(self) -> int:
        return len(self.array) - 1 - len(self.free)

    def add(self, handle: ResourceHandle) -> int:
        free = self.free
        if free:
            index = free.pop()
            self.array[index] = handle
            return index
        index = len(self.array)
        if index > MAX_TABLE_LENGTH:
            raise _trap("cannot allocate another handle: index overflow")
        self.array.append(handle)
        return index

    def get(self, index: int) -> ResourceHandle:
        if 0 < index < len(self.array):
            handle = self.array[index]
            if handle is not None:
                return handle
        raise unknown_handle(index)

    def remove(self, index: int) -> None:
        self.array[index] = None
        self.free.append(index)

    # -------------------------------------------------------- typed access

    def typed(self, index: int, resource: RuntimeResource) -> ResourceHandle:
        """The handle at ``index``, which must be of type ``resource`` (``resource.rep``)."""
        handle = self.get(index)
        if handle.__class__ is not ResourceHandle or handle.resource.key != resource.key:
            raise wrong_type(index)
        return handle

    def remove_typed(self, index: int, resource: RuntimeResource) -> ResourceHandle:
        """Remove the handle at ``index`` (``resource.drop``); an ``own`` must not be lent."""
        handle = self.get(index)
        if handle.__class__ is not ResourceHandle:
            raise wrong_type(index)
        if handle.own and handle.lends:
            raise still_borrowed()
        if handle.resource.key != resource.key:
            raise wrong_type(index)
        self.remove(index)
        return handle

    def lift_own(self, index: int, resource: RuntimeResource) -> int:
        """Take ownership out of the table (spec ``lift_own``); return the rep."""
        handle = self.get(index)
        if handle.__class__ is not ResourceHandle:
            raise wrong_type(index)
        if not handle.own:
            if handle.resource.key != resource.key:
                raise wrong_type(index)
            raise _trap("cannot lift own resource from a borrow")
        if handle.lends:
            raise still_borrowed()
        if handle.resource.key != resource.key:
            raise wrong_type(index)
        self.remove(index)
        return handle.rep

    def lift_borrow(self, index: int, resource: RuntimeResource, scope: CallScope) -> int:
        """Lend the handle at ``index`` for the call of ``scope`` (spec ``lift_borrow``)."""
        return scope.lend(self.typed(index, resource))

    def lower_own(self, resource: RuntimeResource, rep: int) -> int:
        return self.add(ResourceHandle(resource, rep, True))

    def lower_borrow(self, resource: RuntimeResource, rep: int, scope: CallScope) -> int:
        """Spec ``lower_borrow``: the defining instance receives the bare rep."""
        if resource.impl_table is self:
            return rep
        index = self.add(ResourceHandle(resource, rep, False, scope))
        scope.borrows += 1
        return index


class HostTable:
    """The store's table of host-held handles, with a generation per slot.

    A ``ResourceAny`` records ``(index, generation)``; removing an entry bumps
    its slot's generation, so every later use of that ``ResourceAny`` fails
    deterministically even once the index is reused.
    """

    __slots__ = ("table", "generations", "__weakref__")

    def __init__(self) -> None:
        self.table = HandleTable()
        self.generations: list[int] = [0]

    def insert(self, handle: ResourceHandle) -> ResourceAny:
        index = self.table.add(handle)
        if index == len(self.generations):
            self.generations.append(0)
        return ResourceAny._new(self, index, self.generations[index], handle.resource.type, handle.own)

    def lookup(self, value: ResourceAny) -> ResourceHandle:
        """The live entry behind ``value``, or a ``ComponentError`` if it is stale.

        A ``ResourceAny`` moved into a component as an ``own`` is consumed:
        like wasmtime-py's closed object, using it raises ``ValueError``.
        """
        if value._host is None:
            raise ValueError("already closed")
        if value._host is not self:
            raise ComponentError("resource handle belongs to a different store")
        index = value._index
        if self.generations[index] != value._generation:
            raise ComponentError("host-owned resource was already de-allocated")
        handle = self.table.array[index]
        if handle is None:
            raise ComponentError(f"unknown handle index {index}")
        return handle

    def remove(self, value: ResourceAny) -> ResourceHandle:
        """Remove ``value``'s entry; an ``own`` must not be lent."""
        handle = self.lookup(value)
        if handle.own and handle.lends:
            raise ComponentError("cannot remove owned resource while borrowed")
        self._remove(value._index)
        return handle

    def expire(self, index: int, generation: int) -> None:
        """Remove a borrow lent to a host call, unless the host already dropped it."""
        if self.generations[index] == generation and self.table.array[index] is not None:
            self._remove(index)

    def _remove(self, index: int) -> None:
        self.table.remove(index)
        self.generations[index] += 1

    def __len__(self) -> int:
        return len(self.table)


def host_table(store: Any) -> HostTable:
    """The host table of ``store`` (created on first use)."""
    return store_state(store, HostTable)


class ResourceTransfer(ResourceAny):
    """A handle in flight inside a fused adapter: lifted from the caller, not yet lowered.

    It subclasses ``ResourceAny`` only so that variant case matching treats it
    as a resource value; it never reaches user code.
    """

    __slots__ = ("resource", "rep")

    resource: RuntimeResource
    rep: int

    @classmethod
    def make(cls, resource: RuntimeResource, rep: int, owned: bool) -> ResourceTransfer:
        self = cls.__new__(cls)
        self._host = None
        self._index = 0
        self._generation = 0
        self._type = resource.type
        self._owned = owned
        self.resource = resource
        self.rep = rep
        return self


# ------------------------------------------------------------------ per-instance state


class InstanceHandles:
    """The handle tables of one instantiation, one per runtime component instance."""

    __slots__ = ("tables", "host", "resources", "store")

    def __init__(self, state: InstanceState) -> None:
        self.store = state.store
        self.tables = [HandleTable() for _ in range(state.plan.num_component_instances)]
        self.host = host_table(state.store)
        self.resources: dict[object, object] = state.resources
        _bind_imports(state, self.resources)

    def resource(self, identity: model.ResourceIdentity) -> RuntimeResource:
        found = self.resources.get(identity)
        if not isinstance(found, RuntimeResource):
            raise UnsupportedError(f"resource type `{identity.name or '?'}` is not available to this instance")
        return found


def _bind_imports(state: InstanceState, resources: dict[object, object]) -> None:
    """Bind each imported resource type to the linker's host type."""
    for (name, extern), definition in zip(state.plan.imports, state.imports, strict=False):
        _bind(name, extern, definition, resources)


def _bind(name: str, extern: object, definition: object, resources: dict[object, object]) -> None:
    if isinstance(extern, model.TypeBound) and extern.resource is not None:
        if not isinstance(definition, ResourceDefinition):
            return  # an `(eq ...)` export left undefined: bound through its other name
        bound = RuntimeResource.host(definition.ty, definition.dtor)
        existing = resources.get(extern.resource)
        if isinstance(existing, RuntimeResource) and existing.key != bound.key:
            raise LinkError("mismatched resource types").with_context(
                f"resource `{name}` must be the same type as a previous import"
            )
        if existing is None:
            resources[extern.resource] = bound
    elif isinstance(extern, model.InstanceType) and isinstance(definition, InstanceDefinition):
        for export_name, export_type in extern.exports.items():
            _bind(export_name, export_type, definition.items.get(export_name), resources)


def create_handles(state: InstanceState) -> InstanceHandles:
    """The ``InstanceState.handles`` of a new instantiation (binds imported resources)."""
    return InstanceHandles(state)


def get_handles(state: Any) -> InstanceHandles:
    handles = state.handles
    if handles is None:
        handles = state.handles = InstanceHandles(state)
    return handles  # type: ignore[no-any-return]


def define_resource(state: Any, step: p.DefineResource) -> None:
    """Mint this instantiation's runtime type for a resource the component defines."""
    handles = get_handles(state)
    identity = model.ResourceIdentity(step.resource.name)
    identity.rep = step.resource.rep
    resource = RuntimeResource(ResourceType._from_identity(identity), identity, False)
    resource.impl_table = handles.tables[step.component_instance]
    resource.impl_flags = state.flags[step.component_instance]
    resource._dtor_def = step.dtor
    resource._state = state
    state.resources[step.resource] = resource


# ------------------------------------------------------------------ destructors


def run_guest_dtor(
    resource: RuntimeResource, rep: int, caller_table: Optional[HandleTable], poison: Callable[[], None]
) -> None:
    """Run a guest destructor for ``rep``, entering its defining instance if it is another one."""
    dtor = resource.guest_dtor()
    if dtor is None:
        return
    flags = resource.impl_flags
    enter = flags is not None and resource.impl_table is not caller_table
    if enter:
        assert flags is not None
        if not flags.may_enter:
            raise cannot_enter()
        flags.may_enter = False
    try:
        dtor(rep)
    except BaseException as error:
        poison()
        if is_uncaught_exception(error):
            raise uncaught_exception() from None
        raise
    finally:
        if enter:
            assert flags is not None
            flags.may_enter = True


def drop_host_value(value: ResourceAny, store: Any) -> None:
    """``ResourceAny.drop``: remove the host's handle; run the destructor of an ``own``."""
    if isinstance(value, ResourceTransfer):
        raise ComponentError("this resource handle is in flight and cannot be dropped")
    host = host_table(store)
    handle = host.remove(value)
    if not handle.own:
        return
    resource = handle.resource
    if resource.is_host:
        if resource.host_dtor is not None:
            resource.host_dtor(store, handle.rep)
        return
    from .call import get_store_state

    store_state_ = get_store_state(store)
    if store_state_.poisoned:
        raise cannot_enter()

    def poison() -> None:
        store_state_.poisoned = True

    run_guest_dtor(resource, handle.rep, None, poison)


def host_value_to_host(value: ResourceAny, store: Any) -> ResourceHost:
    """``ResourceAny.to_host``: take a host-defined resource out of the host table."""
    key = value._type._identity.host_key
    if isinstance(value, ResourceTransfer) or not isinstance(key, int):
        raise ComponentError("resource type mismatch")
    handle = host_table(store).remove(value)
    return ResourceHost._new(handle.rep, key, handle.own)


def host_resource_to_any(value: ResourceHost, store: Any) -> ResourceAny:
    """``ResourceHost.to_any``: register a host resource in the host table (no destructor)."""
    resource = RuntimeResource.host(ResourceType.host(value.type), None)
    return host_table(store).insert(ResourceHandle(resource, value.rep, value.owned))


# ------------------------------------------------------------------ lift/lower context


def _not_a_resource(value: Any) -> TypeError:
    return TypeError(f"expected ResourceAny or ResourceHost for Own type, got {type(value).__name__}")


class HandleContext(LiftLowerContext):
    """The runtime's ``LiftLowerContext``: resource hooks bound to one component instance.

    ``scope`` is the :class:`CallScope` of the call in progress; the call
    paths set it (and restore the previous one) around each call whose type
    contains handles.
    """

    __slots__ = ("table", "handles", "resources", "host", "scope")

    def __init__(
        self,
        options: CanonicalOptions,
        memory: Optional[GuestMemoryLike],
        realloc: Optional[Realloc],
        handles: InstanceHandles,
        component_instance: int,
        *,
        fused: bool = False,
    ) -> None:
        super().__init__(options, memory, realloc, fused=fused)
        self.handles = handles
        self.resources: dict[Any, Any] = handles.resources
        self.table = handles.tables[component_instance]
        self.host = handles.host
        self.scope: Optional[CallScope] = None

    def _scope(self) -> CallScope:
        scope = self.scope
        assert scope is not None, "no call scope for a handle-carrying call"
        return scope

    # guest -> Python (or -> adapter token)

    def lift_own(self, resource: model.ResourceIdentity, index: int) -> Any:
        rt = self.handles.resource(resource)
        rep = self.table.lift_own(index, rt)
        if self.fused:
            return ResourceTransfer.make(rt, rep, True)
        return self.host.insert(ResourceHandle(rt, rep, True))

    def lift_borrow(self, resource: model.ResourceIdentity, index: int) -> Any:
        rt = self.handles.resource(resource)
        scope = self._scope()
        rep = self.table.lift_borrow(index, rt, scope)
        if self.fused:
            return ResourceTransfer.make(rt, rep, False)
        host = self.host
        value = host.insert(ResourceHandle(rt, rep, False, scope))
        scope.add_host_borrow(host, value._index, value._generation)
        return value

    # Python (or adapter token) -> guest

    def lower_own(self, resource: model.ResourceIdentity, value: Any) -> int:
        rt = self.handles.resource(resource)
        if type(value) is ResourceTransfer:
            rep = value.rep
        elif isinstance(value, ResourceAny):
            if value._type != rt.type:
                raise ComponentError("mismatched resource types")
            handle = self.host.lookup(value)
            if not handle.own:
                raise ComponentError("cannot lift own resource from a borrow")
            rep = self.host.remove(value).rep
            value._host = None  # consumed
        elif isinstance(value, ResourceHost):
            if not rt.is_host or rt.key != value.type:
                raise ComponentError("mismatched resource types")
            if not value.owned:
                raise ComponentError("cannot lower a `borrow` resource into an `own`")
            rep = value.rep
        else:
            raise _not_a_resource(value)
        return self.table.lower_own(rt, rep)

    # -------------------------------------------------------- streams, futures, error contexts

    def lift_stream(self, t: model.StreamType, index: int) -> Any:
        shared = lift_end(self.table, index & M32, t.payload, True)
        if self.fused:
            return shared
        return StreamReader(shared, scheduler_of(self.handles.store))

    def lower_stream(self, t: model.StreamType, value: Any) -> int:
        if isinstance(value, StreamReader):
            value = value._take()
        elif not isinstance(value, SharedStream):
            if hasattr(value, "__aiter__"):
                value = host_stream_async(t.payload, value, scheduler_of(self.handles.store))
            elif is_iterable(value):
                value = host_stream(t.payload, value)
            else:
                raise TypeError(
                    f"expected a stream (an iterable, an async iterable or a StreamReader), got {type(value).__name__}"
                )
        return lower_end(self.table, value, True)

    def lift_future(self, t: model.FutureType, index: int) -> Any:
        shared = lift_end(self.table, index & M32, t.payload, False)
        if self.fused:
            return shared
        return FutureReader(shared, scheduler_of(self.handles.store))

    def lower_future(self, t: model.FutureType, value: Any) -> int:
        if isinstance(value, FutureReader):
            value = value._take()
        elif not isinstance(value, SharedFuture):
            if inspect.isawaitable(value):
                value = host_future_async(t.payload, value, scheduler_of(self.handles.store))
            else:
                value = host_future(t.payload, value)
        return lower_end(self.table, value, False)

    def lift_error_context(self, index: int) -> Any:
        entry = self.table.get(index & M32)
        if not isinstance(entry, ErrorContext):
            raise _trap("handle is not an error-context")
        return entry

    def lower_error_context(self, value: Any) -> int:
        if not isinstance(value, ErrorContext):
            raise TypeError(f"expected an error context, got {type(value).__name__}")
        return self.table.add(value)  # type: ignore[arg-type]

    def lower_borrow(self, resource: model.ResourceIdentity, value: Any) -> int:
        # The hot path of every borrow parameter: lookups and the table's
        # ``lower_borrow`` are inlined, exact types are tested first.
        rt = self.resources.get(resource)
        if rt.__class__ is not RuntimeResource:
            rt = self.handles.resource(resource)
        scope = self.scope
        assert scope is not None, "no call scope for a handle-carrying call"
        cls = value.__class__
        if cls is ResourceHost:
            if not rt.is_host or rt.key != value._type:
                raise ComponentError("mismatched resource types")
            rep = value._rep
        elif cls is ResourceAny:
            # ``_lend_host_value`` inlined; any failed check goes through
            # ``HostTable.lookup`` for its exact error.
            mine = value._type
            if mine is not rt.type and not (rt.is_host and mine._identity.host_key == rt.key) and mine != rt.type:
                raise ComponentError("mismatched resource types")
            host = self.host
            index = value._index
            if value._host is host and host.generations[index] == value._generation:
                handle = host.table.array[index]
                if handle is None:
                    handle = host.lookup(value)
            else:
                handle = host.lookup(value)
            if handle.own:
                handle.lends += 1
                lenders = scope.lenders
                if lenders is None:
                    scope.lenders = [handle]
                else:
                    lenders.append(handle)
            rep = handle.rep
        elif cls is ResourceTransfer:
            rep = value.rep
        elif isinstance(value, ResourceAny):
            rep = self._lend_host_value(rt, value, scope)
        elif isinstance(value, ResourceHost):
            if not rt.is_host or rt.key != value.type:
                raise ComponentError("mismatched resource types")
            rep = value.rep
        else:
            raise _not_a_resource(value)
        table = self.table
        if rt.impl_table is table:
            return rep  # spec ``lower_borrow``: the defining instance receives the bare rep
        handle = ResourceHandle(rt, rep, False, scope)
        free = table.free
        if free:
            index = free.pop()
            table.array[index] = handle
        else:
            index = table.add(handle)
        scope.borrows += 1
        return index

    def _lend_host_value(self, rt: RuntimeResource, value: ResourceAny, scope: CallScope) -> int:
        """Lend the host's handle behind ``value`` for the call of ``scope``; return its rep."""
        mine = value._type
        theirs = rt.type
        if mine is not theirs and mine != theirs:
            raise ComponentError("mismatched resource types")
        return scope.lend(self.host.lookup(value))


def make_context(
    state: Any,
    component_instance: int,
    options: CanonicalOptions,
    memory: Optional[GuestMemoryLike],
    realloc: Optional[Realloc],
    fused: bool,
) -> HandleContext:
    """The lift/lower context of canonical options owned by ``component_instance``."""
    return HandleContext(options, memory, realloc, get_handles(state), component_instance, fused=fused)


# ------------------------------------------------------------------ types


@cache  # types are DAGs: one visit per distinct node, not per path
def has_handles(t: Optional[model.ValType]) -> bool:
    """Whether values of ``t`` can contain ``own`` or ``borrow`` handles."""
    if t is None:
        return False
    if isinstance(t, (model.OwnType, model.BorrowType)):
        return True
    if isinstance(t, model.ListType):
        return has_handles(t.element)
    if isinstance(t, model.RecordType):
        return any(has_handles(f) for _, f in t.fields)
    if isinstance(t, model.TupleType):
        return any(has_handles(e) for e in t.elements)
    if isinstance(t, (model.VariantType, model.OptionType, model.ResultType)):
        return any(has_handles(c) for _, c in t.cases())
    if isinstance(t, model.MapType):
        return has_handles(t.key) or has_handles(t.value)
    return False


def func_has_handles(t: model.FuncType) -> bool:
    return any(has_handles(v) for _, v in t.params) or has_handles(t.result)


# ------------------------------------------------------------------ intrinsics


def resource_intrinsic(state: Any, trampoline: p.ResourceIntrinsic) -> wasmtime.Func:
    """The core function of ``resource.new``/``resource.rep``/``resource.drop``."""
    handles = get_handles(state)
    table = handles.tables[trampoline.component_instance]
    flags = state.flags[trampoline.component_instance]
    identity = trampoline.resource
    found: list[RuntimeResource] = []

    def resource() -> RuntimeResource:
        if not found:
            found.append(handles.resource(identity))
        return found[0]

    if trampoline.kind == "new":

        def new(rep: int) -> int:
            if not flags.may_leave:
                raise cannot_leave()
            return table.add(ResourceHandle(resource(), rep & M32, True))

        return make_host_func(state.store, ("i32",), ("i32",), new)

    if trampoline.kind == "rep":

        def rep_of(index: int) -> int:
            return table.typed(index & M32, resource()).rep

        return make_host_func(state.store, ("i32",), ("i32",), rep_of)

    assert trampoline.kind == "drop", trampoline.kind
    from .call import get_store_state

    store_state_ = get_store_state(state.store)
    store_ctx = state.store._context()  # a host destructor gets a StoreContext of it
    array = table.array
    free = table.free
    resolved: Optional[RuntimeResource] = None

    def poison() -> None:
        store_state_.poisoned = True

    def drop(index: int) -> None:
        # ``HandleTable.remove_typed`` inlined: this runs once per borrow parameter.
        if not flags.may_leave:
            raise cannot_leave()
        nonlocal resolved
        rt = resolved
        if rt is None:
            rt = resolved = resource()
        index &= M32
        handle = array[index] if 0 < index < len(array) else None
        if handle is None:
            raise unknown_handle(index)
        if handle.__class__ is not ResourceHandle:  # a waitable, set or error context of the same table
            raise wrong_type(index)
        own = handle.own
        if own and handle.lends:
            raise still_borrowed()
        if handle.resource.key != rt.key:
            raise wrong_type(index)
        array[index] = None
        free.append(index)
        if not own:
            scope = handle.scope
            if scope is not None:
                scope.borrows -= 1
            return
        target = handle.resource
        if target.is_host:
            # The destructor of the type the intrinsic names (wasmtime uses the import's).
            dtor = rt.host_dtor
            if dtor is not None:
                context = wasmtime.StoreContext(store_ctx)
                try:
                    dtor(context, handle.rep)
                finally:
                    context._invalidate()
            return
        run_guest_dtor(target, handle.rep, table, poison)

    return make_host_func(state.store, ("i32",), (), drop)


__all__ = [
    "CallScope",
    "HandleContext",
    "HandleTable",
    "HostTable",
    "InstanceHandles",
    "ResourceHandle",
    "ResourceTransfer",
    "RuntimeResource",
    "create_handles",
    "define_resource",
    "drop_host_value",
    "func_has_handles",
    "get_handles",
    "has_handles",
    "host_table",
    "make_context",
    "resource_intrinsic",
]
