"""The instantiation plan: what the runtime walks to instantiate a component.

Translation (``translate.inline``) interprets every nested instantiation of a
component at compile time, so the plan is flat: a list of core module
instantiations in order, a list of synthesized core functions ("trampolines":
lowered host imports, guest-to-guest adapters, resource intrinsics), a table of
canonical options, and a tree of exports.  Nothing in it depends on a store.

Where a core item comes from is a ``CoreDef``: an export of a runtime core
instance (``CoreExport``) or a trampoline (``TrampolineRef``).  Host-provided
items are reached through an ``ImportPath``: the index of a top-level import
plus the names of nested instance exports below it.

Example: for::

    (component
      (import "log" (func $log (param "msg" string)))
      (core module $m (import "" "log" (func (param i32 i32))) (memory (export "mem") 1) ...)
      (core func $log_lowered (canon lower (func $log) (memory ...)))
      (core instance $i (instantiate $m (with "" (instance (export "log" (func $log_lowered)))))))

the plan holds one ``InstantiateModule`` step whose single argument is
``TrampolineRef(0)``, and ``trampolines[0]`` is a ``LowerImport`` of
``ImportPath(0, ())`` whose options name ``CoreExport(0, "mem")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from ..types import model


@dataclass(frozen=True, slots=True)
class CoreExport:
    """Export ``name`` of runtime core instance ``instance``."""

    instance: int
    name: str


@dataclass(frozen=True, slots=True)
class TrampolineRef:
    """The core function synthesized as ``Plan.trampolines[index]``."""

    index: int


CoreDef = Union[CoreExport, TrampolineRef]


@dataclass(frozen=True, slots=True)
class ImportPath:
    """A host-provided item: top-level import ``import_index`` then nested export names."""

    import_index: int
    path: tuple[str, ...] = ()

    def child(self, name: str) -> ImportPath:
        return ImportPath(self.import_index, self.path + (name,))


@dataclass(frozen=True, slots=True)
class StaticModule:
    """A core module embedded in the component: ``Plan.modules[index]``."""

    index: int


ModuleRef = Union[StaticModule, ImportPath]


@dataclass(frozen=True, slots=True)
class OptionsDef:
    """Canonical options of one ``canon lift``/``canon lower``.

    ``component_instance`` is the runtime component instance that owns the
    lift or lower: its may_enter/may_leave flags and handle table are the ones used.
    """

    string_encoding: str
    memory: Optional[CoreDef]
    realloc: Optional[CoreDef]
    post_return: Optional[CoreDef]
    component_instance: int
    is_async: bool = False
    # The ``(callback f)`` of an async lift: the core function the
    # scheduler calls with each event (the callback ABI).
    callback: Optional[CoreDef] = None


@dataclass(frozen=True, slots=True)
class LiftedFunc:
    """A component function made by ``canon lift`` of ``core`` with ``Plan.options[options]``.

    With the ``async`` option (``Plan.options[options].is_async``) it is an
    async lift: stackful without a callback, callback-driven with one.
    """

    core: CoreDef
    type: model.FuncType
    options: int


ComponentFuncDef = Union[LiftedFunc, ImportPath]


# ------------------------------------------------------------------ trampolines


@dataclass(frozen=True, slots=True)
class LowerImport:
    """A host function lowered into a core function."""

    func: ImportPath
    type: model.FuncType
    options: int


@dataclass(frozen=True, slots=True)
class LowerLifted:
    """A lifted function of this component lowered again: a fused guest-to-guest adapter."""

    callee: LiftedFunc
    type: model.FuncType
    options: int


@dataclass(frozen=True, slots=True)
class ResourceIntrinsic:
    """``resource.new``/``resource.drop``/``resource.rep`` for ``resource``."""

    kind: str
    resource: model.ResourceIdentity
    component_instance: int


@dataclass(frozen=True, slots=True)
class Builtin:
    """Any other ``canon`` built-in: the async, stream/future, error-context and thread ones.

    ``name`` is the spec's spelling (``'task.return'``, ``'stream.read'``,
    ``'waitable-set.wait'``, ...).  The fields below are set only for the
    built-ins that carry the matching immediate:

    * ``options``: ``Plan.options`` index of the ``opts`` of ``task.return``,
      ``stream.read``/``write``, ``future.read``/``write`` and
      ``error-context.new``/``debug-message``; for ``waitable-set.wait``/``poll``
      an options entry holding just their ``memory``;
    * ``type``: the ``stream<T>``/``future<T>`` type of the ``stream.*``/``future.*`` ones;
    * ``result``: ``task.return``'s result type (None for no result);
    * ``is_async``: the ``async`` flag of ``subtask.cancel`` and the cancel-read/write ones;
    * ``cancellable``: the ``cancellable`` flag of ``waitable-set.wait``/``poll`` and ``thread.*``;
    * ``slot``: ``context.get``/``context.set``'s slot index;
    * ``core_type``: ``thread.new-indirect``'s core function type, as ``(params, results)``;
    * ``table``: ``thread.new-indirect``'s core table.
    """

    name: str
    component_instance: int
    options: Optional[int] = None
    type: Optional[model.ValType] = None
    result: Optional[model.ValType] = None
    is_async: bool = False
    cancellable: bool = False
    slot: int = 0
    core_type: Optional[tuple[tuple[str, ...], tuple[str, ...]]] = None
    table: Optional[CoreDef] = None


Trampoline = Union[LowerImport, LowerLifted, ResourceIntrinsic, Builtin]

# Built-ins that may block their caller; the second set only without ``async``.
_SUSPENDING = frozenset({
    "waitable-set.wait",
    "thread.suspend",
    "thread.yield",
    "thread.suspend-then-resume",
    "thread.yield-then-resume",
    "thread.suspend-then-promote",
    "thread.yield-then-promote",
})
_SUSPENDING_UNLESS_ASYNC = frozenset({
    "subtask.cancel",
    "stream.read",
    "stream.write",
    "stream.cancel-read",
    "stream.cancel-write",
    "future.read",
    "future.write",
    "future.cancel-read",
    "future.cancel-write",
})


# ------------------------------------------------------------------ steps


@dataclass(frozen=True, slots=True)
class InstantiateModule:
    """Instantiate a core module as runtime core instance ``instance``.

    For a static module ``args`` lists the definition of each of its imports,
    in the module's import order.  For an imported module (known only at run
    time) ``named_args`` maps each import module name to a ``CoreInstanceArg``.
    """

    instance: int
    module: ModuleRef
    args: tuple[CoreDef, ...] = ()
    named_args: tuple[tuple[str, CoreInstanceArg], ...] = ()


@dataclass(frozen=True, slots=True)
class RuntimeCoreInstance:
    index: int


@dataclass(frozen=True, slots=True)
class CoreExportBag:
    """A core instance made of inline exports."""

    items: tuple[tuple[str, CoreDef], ...]

    def get(self, name: str) -> Optional[CoreDef]:
        for key, value in self.items:
            if key == name:
                return value
        return None


CoreInstanceArg = Union[RuntimeCoreInstance, CoreExportBag]


@dataclass(frozen=True, slots=True)
class DefineResource:
    """A resource type defined by the component; fresh for every instantiation."""

    resource: model.ResourceIdentity
    dtor: Optional[CoreDef]
    component_instance: int


Step = Union[InstantiateModule, DefineResource]


# ------------------------------------------------------------------ exports


@dataclass(frozen=True, slots=True)
class ExportFunc:
    func: ComponentFuncDef
    type: model.FuncType


@dataclass(frozen=True, slots=True)
class ExportModule:
    module: ModuleRef


@dataclass(frozen=True, slots=True)
class ExportType:
    type: object


@dataclass(frozen=True, slots=True)
class ExportComponent:
    type: object


@dataclass
class ExportInstance:
    items: dict[str, ExportItem] = field(default_factory=dict)


ExportItem = Union[ExportFunc, ExportModule, ExportType, ExportComponent, ExportInstance]


@dataclass
class Plan:
    """Everything needed to instantiate a component; immutable once built."""

    imports: list[tuple[str, model.ExternType]] = field(default_factory=list)
    modules: list[bytes] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    trampolines: list[Trampoline] = field(default_factory=list)
    options: list[OptionsDef] = field(default_factory=list)
    exports: dict[str, ExportItem] = field(default_factory=dict)
    export_types: dict[str, model.ExternType] = field(default_factory=dict)
    num_core_instances: int = 0
    num_component_instances: int = 0
    # The runtime component instance that instantiated each one (None for the root).
    component_instance_parents: list[Optional[int]] = field(default_factory=list)

    @property
    def uses_async(self) -> bool:
        """Whether any part of the component needs the async runtime.

        True when a lift or lower has the ``async`` option or any ``canon``
        built-in beyond ``resource.*`` appears.  Such components run every
        core call on a wasmtime fiber (see ``concurrent``); the others keep
        the synchronous fast path untouched.
        """
        return any(o.is_async for o in self.options) or any(isinstance(t, Builtin) for t in self.trampolines)

    def suspending_instances(self) -> frozenset[int]:
        """The runtime component instances whose core code may have to stop mid-call.

        One is when it has a built-in that blocks its caller (``waitable-set.wait``,
        ``thread.*`` switches and yields, stream/future operations and
        ``subtask.cancel`` without ``async``) or a guest-to-guest call lowered
        synchronously (the callee may block).  Threads of the other instances
        never need a fiber: their core calls stay plain synchronous calls.
        """
        found: set[int] = set()
        for t in self.trampolines:
            if isinstance(t, Builtin):
                if t.name in _SUSPENDING or (t.name in _SUSPENDING_UNLESS_ASYNC and not self._is_async_builtin(t)):
                    found.add(t.component_instance)
            elif isinstance(t, LowerLifted) and not self.options[t.options].is_async:
                found.add(self.options[t.options].component_instance)
        return frozenset(found)

    def _is_async_builtin(self, t: Builtin) -> bool:
        if t.options is not None:
            return self.options[t.options].is_async
        return t.is_async

    @property
    def uses_threads(self) -> bool:
        """Whether the component switches threads (``thread.*`` beyond ``yield`` and ``index``).

        Then even tasks of synchronous type run on a fiber, since a switch
        suspends the calling thread.
        """
        return any(
            isinstance(t, Builtin) and t.name.startswith("thread.") and t.name not in ("thread.yield", "thread.index")
            for t in self.trampolines
        )

    @property
    def has_thread_builtins(self) -> bool:
        """Whether guest code can see thread indices (any ``thread.*`` built-in)."""
        return any(isinstance(t, Builtin) and t.name.startswith("thread.") for t in self.trampolines)

    def ancestors(self, component_instance: int) -> set[int]:
        """The runtime component instances enclosing ``component_instance``."""
        found: set[int] = set()
        parent = self.component_instance_parents[component_instance]
        while parent is not None:
            found.add(parent)
            parent = self.component_instance_parents[parent]
        return found
