"""``Func``: an exported component function, called with Python values.

    >>> import wasmtime
    >>> from wasmcomponent import Component, Linker
    >>> engine = wasmtime.Engine()
    >>> store = wasmtime.Store(engine)
    >>> component = Component(engine, '''(component
    ...   (core module $m (func (export "add") (param i32 i32) (result i32)
    ...     local.get 0 local.get 1 i32.add))
    ...   (core instance $i (instantiate $m))
    ...   (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    ...     (canon lift (core func $i "add"))))''')
    >>> add = Linker(engine).instantiate(store, component).get_func(store, "add")
    >>> add(store, 2, 3)
    5
    >>> [name for name, _ in add.type(store).params]
    ['a', 'b']
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import wasmtime

from ..translate import plan as p
from ..types import model
from .call import LiftedCall
from .linker import FuncDefinition, TrapDefinition


class Func:
    """A component function exported by an ``Instance``."""

    __slots__ = ("_invoke", "_type", "_param_count", "_state", "_public_type")
    _invoke: Callable[[Any, tuple], Any]
    _type: model.FuncType
    _param_count: int
    _state: Any
    _public_type: Any

    def __init__(self) -> None:
        raise wasmtime.WasmtimeError("Cannot directly construct a `Func`")

    @classmethod
    def _new(cls, invoke: Callable[[Any, tuple], Any], ty: model.FuncType, state: Any) -> Func:
        self = cls.__new__(cls)
        self._invoke = invoke
        self._type = ty
        self._param_count = len(ty.params)
        self._state = state
        self._public_type = None
        return self

    def __call__(self, store: wasmtime.Storelike, *params: Any) -> Any:
        """Calls the function with Python values and returns its result (None if it has none)."""
        if len(params) != self._param_count:
            raise TypeError(
                f"wrong number of parameters provided: given {len(params)}, expected {self._param_count}"
            )
        return self._invoke(store, params)

    def post_return(self, store: wasmtime.Storelike) -> None:
        """Compatibility no-op: post-return already ran at the end of the call, as in wasmtime 50."""

    def type(self, store: wasmtime.Storelike) -> Any:
        """The function's ``FuncType``, with the resource types of this instance."""
        if self._public_type is None:
            from .handles import get_handles
            from .types import functype_from_model

            handles = get_handles(self._state)

            def runtime_identity(identity: model.ResourceIdentity) -> model.ResourceIdentity:
                found = handles.resources.get(identity)
                ty = getattr(found, "type", None)
                return identity if ty is None else ty._identity

            self._public_type = functype_from_model(model.substitute_resources(self._type, runtime_identity))
        return self._public_type

    def params(self, store: wasmtime.Storelike) -> list[tuple[str, Any]]:
        """The parameters as ``(name, ValType)`` pairs."""
        return list(self.type(store).params)

    def results(self, store: wasmtime.Storelike) -> Optional[Any]:
        """The result ``ValType``, or None."""
        return self.type(store).result


def make_func(state: Any, item: p.ExportFunc) -> Func:
    """The ``Func`` for an exported function of the instance ``state``."""
    target = item.func
    if isinstance(target, p.LiftedFunc):
        call = LiftedCall(state, target)
        invoke = call.invoke
        return Func._new(lambda store, args: invoke(args), item.type, state)
    definition = state.host_item(target)
    if isinstance(definition, FuncDefinition):
        host = definition.func
        return Func._new(lambda store, args: host(store, *args), item.type, state)
    assert isinstance(definition, TrapDefinition)
    from .trampolines import unknown_import_trap

    def trap(store: Any, args: tuple) -> Any:
        raise unknown_import_trap(definition.name)

    return Func._new(trap, item.type, state)
