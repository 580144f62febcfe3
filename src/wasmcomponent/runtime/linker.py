"""``Linker`` and ``LinkerInstance``: host definitions by name, and instantiation.

A linker is a tree of named definitions: host functions (Python callables),
core modules, host resource types, and nested instances.  Names use
semver-compatible lookup (see ``runtime.names``).

The locking rules are wasmtime-py's: while a ``LinkerInstance`` obtained from
``root()`` or ``add_instance()`` is open, its parent cannot be used; close it
(a ``with`` block does) to unlock the parent.

    >>> import wasmtime
    >>> linker = Linker(wasmtime.Engine())
    >>> with linker.root() as root:
    ...     root.add_func("double", lambda store, x: 2 * x)
    ...     with root.add_instance("math:ops/calc@1.0.0") as calc:
    ...         calc.add_func("neg", lambda store, x: -x)
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import wasmtime

from ..errors import LinkError, UnsupportedError
from ..types.model import ResourceIdentity
from .names import NameMap

if TYPE_CHECKING:
    from .component import Component
    from .instance import Instance
    from .resources import ResourceType

UserFunc = Callable[..., Optional[Any]]


def _is_coroutine_function(func: Any) -> bool:
    """Whether calling ``func`` gives a coroutine (an ``async def``, also behind ``functools.partial``)."""
    while isinstance(func, functools.partial):
        func = func.func
    # An object whose ``__call__`` is an ``async def`` counts too.
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)


ResourceDtor = Callable[[wasmtime.StoreContext, int], None]


@dataclass(frozen=True)
class FuncDefinition:
    """A Python host function; ``fast`` optionally supplies a direct core implementation.

    ``fast(env)`` (see ``runtime.trampolines.FastLowerEnv``) may return a
    callback over the raw core arguments that behaves exactly like lifting,
    calling ``func`` and lowering would; None means "use the general path".
    """

    func: UserFunc
    fast: Optional[Callable[[Any], Optional[Callable[..., Any]]]] = None
    # The function may answer later: it returns a ``concurrent.host.HostPending``
    # (wasmtime's ``func_wrap_concurrent``); calls go through ``canon_lower``.
    concurrent: bool = False
    # An ``async def``: each call's coroutine runs on the asyncio loop of the
    # ``call_async`` that drives the store (``concurrent.aio``).
    coroutine: bool = False
    # An ``async def`` doing what ``func`` does without blocking the thread,
    # used instead of ``func`` by instances made while an asyncio loop runs
    # (WASI's blocking calls: ``poll``, ``blocking-read``, ...).
    async_variant: Optional[UserFunc] = None


@dataclass(frozen=True)
class ModuleDefinition:
    module: wasmtime.Module


@dataclass(frozen=True)
class ResourceDefinition:
    ty: ResourceType
    dtor: Optional[ResourceDtor]


@dataclass(frozen=True)
class TrapDefinition:
    """An import defined by ``define_unknown_imports_as_traps``: calling it traps."""

    name: str


@dataclass
class InstanceDefinition:
    items: NameMap[Definition] = field(default_factory=NameMap)


Definition = Union[FuncDefinition, ModuleDefinition, ResourceDefinition, TrapDefinition, InstanceDefinition]


class PreparedLink:
    """What instantiating one component with one linker's definitions needs, worked out once.

    ``imports`` are the type-checked definitions of the component's imports;
    ``recipes`` holds, per trampoline of the plan, the store-independent part
    of its core function (filled lazily by ``runtime.trampolines``).  Valid
    while the linker's definitions are unchanged (``generation``).
    """

    __slots__ = ("generation", "imports", "recipes", "coroutine_lowers", "asyncio_lowers")

    def __init__(self, generation: int, imports: list[Definition], trampolines: int) -> None:
        self.generation = generation
        self.imports = imports
        self.recipes: list[Any] = [None] * trampolines
        # The plan's lowered imports defined by an ``async def`` (filled by the
        # first instantiation, ``runtime.instance``), and those that also count
        # under a running event loop (with an ``async_variant``).
        self.coroutine_lowers: Optional[list[Any]] = None
        self.asyncio_lowers: Optional[list[Any]] = None


def describe(definition: Definition) -> str:
    """The kind of a definition as wasmtime's messages name it."""
    if isinstance(definition, ModuleDefinition):
        return "module"
    if isinstance(definition, InstanceDefinition):
        return "instance"
    if isinstance(definition, ResourceDefinition):
        return "resource"
    return "func"


class Linker:
    """Defines host items by name and instantiates components with them."""

    engine: wasmtime.Engine
    locked: bool

    def __init__(self, engine: wasmtime.Engine) -> None:
        if not isinstance(engine, wasmtime.Engine):
            raise TypeError("expected an Engine")
        self.engine = engine
        self.locked = False
        self._allow_shadowing = False
        self._root = InstanceDefinition()
        # Bumped by every definition change; invalidates ``_prepared``.
        self._generation = 0
        # How wasi:http got defined: None, "wasip2" (by add_wasip2, not yet claimed by
        # add_wasi_http) or "explicit" (add_wasi_http, which wasmtime lets define it once).
        self._wasi_http: Optional[str] = None
        self._prepared: weakref.WeakKeyDictionary[Component, PreparedLink] = weakref.WeakKeyDictionary()
        self._closed = False

    def _assert_not_locked(self) -> None:
        # wasmtime-py's order: a locked linker says so, a closed one is a ValueError.
        if self.locked:
            raise wasmtime.WasmtimeError("cannot use linker while it's in use by other instances")
        if self._closed:
            raise ValueError("already closed")

    def close(self) -> None:
        """Closes this linker, as wasmtime-py's: later use raises ``ValueError("already closed")``.

        A linker whose ``root()`` (or a nested instance) is still open cannot be
        closed (``WasmtimeError``).  Instances already made with it live on.
        """
        if self._closed:
            return
        self._assert_not_locked()
        self._closed = True
        self._root = InstanceDefinition()
        self._prepared = weakref.WeakKeyDictionary()

    def __enter__(self) -> Linker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set_allow_shadowing(self, allow: bool) -> None:
        """Configures whether definitions are allowed to shadow one another."""
        self._assert_not_locked()
        self._allow_shadowing = bool(allow)

    allow_shadowing = property(fset=_set_allow_shadowing, doc=_set_allow_shadowing.__doc__)

    def root(self) -> LinkerInstance:
        """Returns the root instance, to define items in; use it in a ``with`` block.

        While it is open the linker itself is locked.
        """
        self._assert_not_locked()
        return LinkerInstance._open(self, self._root, self)

    def add_wasip2(self) -> None:
        """Adds the WASI 0.2 interfaces (every ``wasi:*@0.2.x``), served by ``wasmcomponent.wasi``.

        Each store's WASI configuration comes from ``wasmcomponent.wasi.set_wasi(store, cfg)``
        or ``store.set_wasi(cfg)`` with a ``wasmcomponent.wasi.WasiConfig``.
        """
        self._assert_not_locked()
        from ..wasi.ctx import add_to_linker, all_interfaces

        if self._wasi_http is None:
            add_to_linker(self)
            self._wasi_http = "wasip2"
        else:  # wasi:http is there already: add the rest, as wasmtime's add_wasip2 would
            packages = {iface.name.split("/")[0].removeprefix("wasi:") for iface in all_interfaces()}
            add_to_linker(self, packages=tuple(sorted(packages - {"http"})))

    def add_wasi_http(self) -> None:
        """Adds ``wasi:http/types`` and ``wasi:http/outgoing-handler`` (wasmtime-py's name).

        ``add_wasip2()`` defines them already (componentize-js components
        import them), so the first call after it does nothing; otherwise it
        defines the HTTP interfaces, so a second call is a duplicate definition
        unless shadowing is allowed, as in wasmtime.  Outgoing requests are
        denied unless the store's ``WasiConfig`` allows them
        (``allow_outgoing_http()`` or an ``http_send`` hook).
        """
        self._assert_not_locked()
        if self._wasi_http == "wasip2":
            self._wasi_http = "explicit"
            return
        from ..wasi.ctx import add_to_linker

        add_to_linker(self, packages=("http",))
        self._wasi_http = "explicit"

    def instantiate(self, store: wasmtime.Storelike, component: Component) -> Instance:
        """Instantiates ``component`` in ``store`` with this linker's definitions."""
        self._assert_not_locked()
        from .component import Component
        from .instance import instantiate

        if not isinstance(component, Component):
            raise TypeError("expected a Component")
        return instantiate(store, component, self._prepare(component))

    async def instantiate_async(self, store: wasmtime.Storelike, component: Component) -> Instance:
        """``instantiate``, awaitable (the name wasmtime-py's async branch used).

        Instantiation runs no guest task that could wait, so it completes at
        once; the coroutine form lets async code written for wasmtime run
        unchanged.
        """
        return self.instantiate(store, component)

    def _prepare(self, component: Component) -> PreparedLink:
        """The cached ``PreparedLink`` of ``component`` (type-checked again after any definition change)."""
        prepared = self._prepared.get(component)
        if prepared is None or prepared.generation != self._generation:
            resolved = self._resolve_imports(component)
            prepared = PreparedLink(self._generation, resolved, len(component._plan.trampolines))
            self._prepared[component] = prepared
        return prepared

    def define_unknown_imports_as_traps(self, component: Component) -> None:
        """Defines every import of ``component`` missing from this linker as a trapping stub."""
        self._assert_not_locked()
        from .component import Component

        if not isinstance(component, Component):
            raise TypeError("expected a Component")
        self._generation += 1
        seen: set[ResourceIdentity] = set()  # resource types met in earlier imports
        budget = [MAX_TRAP_DEFINITIONS]
        for name, expected in component._plan.imports:
            _define_traps(self._root, name, expected, self._allow_shadowing, seen, None, budget)

    def _resolve_imports(self, component: Component) -> list[Definition]:
        """Look up and type-check every import of ``component``; wasmtime's messages on failure."""
        from .typecheck import check_definition

        resolved: list[Definition] = []
        bound: dict[ResourceIdentity, Definition] = {}  # resource types supplied so far
        for name, expected in component._plan.imports:
            found = self._root.items.get(name)
            try:
                check_definition(expected, found, self.engine, bound)
            except LinkError as err:
                raise err.with_context(
                    f"component imports {_describe_type(expected)} `{name}`, but a matching "
                    "implementation was not found in the linker"
                ) from None
            # An instance import may be left undefined when it needs nothing.
            resolved.append(found if found is not None else InstanceDefinition())
        return resolved


def _describe_type(expected: object) -> str:
    from .typecheck import describe_expected

    return describe_expected(expected)


MAX_TRAP_DEFINITIONS = 10_000
"""Cap on the items one ``define_unknown_imports_as_traps`` call defines: an
import type nesting instances in a doubling chain is exponentially larger than
the component, and every item becomes a definition."""


def _define_traps(
    parent: InstanceDefinition,
    name: str,
    expected: object,
    allow_shadowing: bool,
    seen: set[ResourceIdentity],
    parent_name: Optional[str] = None,
    budget: Optional[list[int]] = None,
) -> None:
    """Stub one missing import as wasmtime does: funcs trap, resources get a host type.

    A resource met in an earlier import (an ``(eq ...)`` import of it) is left
    undefined: it is satisfied by that import, as wasmtime-py 50 behaves.
    """
    from ..types import model
    from .resources import ResourceType
    from .typecheck import describe_expected

    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise UnsupportedError(
                f"defining more than {MAX_TRAP_DEFINITIONS} imported items as traps is not supported"
            )
    existing = parent.items.get(name)
    if isinstance(expected, model.InstanceType):
        if existing is None:
            existing = InstanceDefinition()
            parent.items.insert(name, existing, allow_shadowing)
        if isinstance(existing, InstanceDefinition):
            for export_name, export_type in expected.exports.items():
                _define_traps(existing, export_name, export_type, allow_shadowing, seen, name, budget)
        return
    if isinstance(expected, (model.CoreModuleType, model.ComponentType)):
        if existing is None:
            raise LinkError(f"unable to define {describe_expected(expected)} imports as traps")
        return
    if isinstance(expected, model.TypeBound) and expected.resource is not None:
        if expected.resource in seen:
            return
        seen.add(expected.resource)
    if existing is not None:
        return
    if isinstance(expected, model.FuncType):
        qualified = name if parent_name is None else f"{parent_name}#{name}"
        parent.items.insert(name, TrapDefinition(qualified), allow_shadowing)
    elif isinstance(expected, model.TypeBound) and expected.resource is not None:
        stub = ResourceType._from_identity(ResourceIdentity("unknown-import", host_key=_STUB_RESOURCE_KEY))
        parent.items.insert(name, ResourceDefinition(stub, None), allow_shadowing)


# All resources stubbed by `define_unknown_imports_as_traps` share one host type, as in wasmtime.
_STUB_RESOURCE_KEY = ("wasmcomponent", "unknown-import")


class LinkerInstance:
    """A named instance inside a ``Linker`` in which items are defined."""

    parent: Optional[Union[Linker, LinkerInstance]]
    locked: bool
    _definition: InstanceDefinition
    _linker: Linker

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `LinkerInstance`")

    @classmethod
    def _open(
        cls,
        parent: Union[Linker, LinkerInstance],
        definition: InstanceDefinition,
        linker: Linker,
    ) -> LinkerInstance:
        self = cls.__new__(cls)
        self.parent = parent
        self.locked = False
        self._definition = definition
        self._linker = linker
        assert not parent.locked
        parent.locked = True
        return self

    def __enter__(self) -> LinkerInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Unlocks the parent; further use of this instance raises."""
        if self.parent is None:
            return
        self._assert_not_locked()
        self.parent.locked = False
        self.parent = None

    def __del__(self) -> None:
        parent = getattr(self, "parent", None)
        if parent is not None and not getattr(self, "locked", False):
            parent.locked = False
            self.parent = None

    def _assert_not_locked(self) -> None:
        if self.locked:
            raise wasmtime.WasmtimeError(
                "cannot use linker instance while it's in use by other instances"
            )

    def _assert_open(self) -> None:
        self._assert_not_locked()
        if self.parent is None:
            raise ValueError("already closed")

    def _insert(self, name: str, definition: Definition) -> None:
        if not isinstance(name, str):
            raise TypeError("expected a str name")
        self._linker._generation += 1
        self._definition.items.insert(name, definition, self._linker._allow_shadowing)

    def add_instance(self, name: str) -> LinkerInstance:
        """Adds (or re-opens) the nested instance ``name``; use the result in a ``with`` block."""
        self._assert_open()
        existing = self._definition.items.get_exact(name)
        if not isinstance(existing, InstanceDefinition):
            existing = InstanceDefinition()
            self._insert(name, existing)
        return LinkerInstance._open(self, existing, self._linker)

    def add_module(self, name: str, module: wasmtime.Module) -> None:
        """Defines the core module ``module`` under ``name``."""
        self._assert_open()
        if not isinstance(module, wasmtime.Module):
            raise TypeError("expected a Module")
        self._insert(name, ModuleDefinition(module))

    def add_resource(self, name: str, ty: ResourceType, dtor: ResourceDtor) -> None:
        """Defines the host resource type ``ty`` under ``name``; ``dtor(store, rep)`` runs on drop."""
        self._assert_open()
        from .resources import ResourceType

        if not isinstance(ty, ResourceType):
            raise TypeError("expected a ResourceType")
        # A copy: the caller may close ``ty`` afterwards, as wasmtime-py allows.
        self._insert(name, ResourceDefinition(ResourceType._from_identity(ty._identity), dtor))

    def add_func(self, name: str, func: UserFunc) -> None:
        """Defines the host function ``func(store, *args)`` under ``name``.

        ``func`` may be an ``async def``: while its coroutine runs, the
        calling guest task waits (other tasks go on), so it can only be
        called under ``await export.call_async(store, ...)``.  It satisfies
        an ``async func`` import, and a sync import too (the guest's core
        code is then suspended on a fiber until the coroutine returns).
        A plain function satisfies either kind of import and returns at once.

        Example::

            async def sleep_ms(store, ms):
                await asyncio.sleep(ms / 1000)

            linker.root().add_func("sleep-ms", sleep_ms)
        """
        self._assert_open()
        if not callable(func):
            raise TypeError("expected a callable")
        self._insert(name, FuncDefinition(func, coroutine=_is_coroutine_function(func)))

    def add_func_async(self, name: str, func: UserFunc) -> None:
        """``add_func`` under the name wasmtime-py's async branch used; ``func`` is usually an ``async def``."""
        self.add_func(name, func)

    def _add_func_concurrent(self, name: str, func: UserFunc) -> None:
        """``add_func`` of a function that may return a ``HostPending`` (answer later); internal."""
        self._assert_open()
        self._insert(name, FuncDefinition(func, concurrent=True))

    def _add_func_fast(
        self, name: str, func: UserFunc, fast: Optional[Callable[[Any], Any]], async_variant: Optional[UserFunc] = None
    ) -> None:
        """``add_func`` plus a direct core implementation and an async variant (see ``FuncDefinition``); internal."""
        self._assert_open()
        self._insert(name, FuncDefinition(func, fast, async_variant=async_variant))
