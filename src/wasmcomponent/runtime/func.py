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

The call path is generated Python source, one function per *call shape*
(arity, which parameters are inline scalars, the result kind, post-return,
handles), compiled once and installed as ``__call__`` of a private ``Func``
subclass.  Per-instance pieces (the raw core call, flags, the lift/lower
closures, the context) live in the ``Func``'s slots, so one generated class
serves every function of that shape.  Between ``func(store, ...)`` and the
raw core call there is then no other Python frame for scalar signatures:
arity check, the store's poisoned flag and ``may_enter``, inline range
checks of ``bool``/integer/float arguments (the per-type closures are the
slow path and raise the precise errors), the unchecked core call, inline
lifting of a scalar result, and post-return with ``may_leave`` clear.
Other signatures call the compiled ``lower_params``/``lift_results``
closures and keep the exact sequence of :meth:`.LiftedCall.invoke`
(``may_leave`` clear while lowering, the borrow scope when the signature
carries handles).  ``WASMCOMPONENT_FORCE_INTERPRETER`` disables the inline
snippets so the interpreters see every value.

``Func.typed(store, params=[...], result=...)`` checks declared Python types
once (:mod:`.typed`) and returns a :class:`TypedFunc` sharing this call path.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Callable, Optional, Sequence, Union

import wasmtime

from ..abi.inline import flat_scalar_lowerer, inline_lift, inline_lower, is_inline_scalar
from ..errors import ComponentTrap
from ..translate import plan as p
from ..types import model
from ..types.abi import MAX_FLAT_PARAMS, flatten_types
from ..types.values import prefix_error
from .call import CallPieces, LiftedCall
from .handles import (
    CallScope,
    ResourceHandle,
    RuntimeResource,
    cannot_enter,
    is_uncaught_exception,
    uncaught_exception,
)
from .linker import FuncDefinition, TrapDefinition
from .resources import ResourceHost
from .typed import check_signature


class Func:
    """A component function exported by an ``Instance``."""

    __slots__ = (
        "_invoke",
        "_type",
        "_param_count",
        "_state",
        "_public_type",
        "_raw",
        "_ss",
        "_flags",
        "_post",
        "_cx",
        "_lower",
        "_lift",
        "_slow",
        "_declared",
    )
    _invoke: Callable[[Any, tuple], Any]
    _type: model.FuncType
    _param_count: int
    _state: Any
    _public_type: Any
    # The pieces of a lifted function, read by the generated ``__call__``.
    _raw: Callable[..., Any]
    _ss: Any
    _flags: Any
    _post: Optional[Callable[..., Any]]
    _cx: Any
    _lower: Callable[[Any, Sequence[Any]], list]
    _lift: Callable[[Any, Sequence[Any]], Any]
    # Per parameter of an inline shape: the slow lowerer of a scalar, or
    # ``(resource, where)`` of an ``own``/``borrow`` handle.
    _slow: tuple[Any, ...]
    _declared: tuple[tuple[Any, ...], Any]

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

    async def call_async(self, store: wasmtime.Storelike, *params: Any) -> Any:
        """Calls the function from asyncio; awaits its result.

        The call runs on the store's scheduler and gives the event loop a
        turn whenever every guest thread waits on the host (an ``async def``
        host function, a stream the host feeds), so other coroutines, and
        other ``call_async`` of the same store, go on meanwhile.  Concurrent
        calls of an async export run as separate tasks, as the Component Model
        allows.  Cancelling the awaiting task cancels the guest task
        (``task.cancel``); a trap raises ``ComponentTrap`` and poisons the
        store, as a synchronous call does.  A function that cannot wait
        (a component without async) simply runs.

        Example::

            async def main():
                results = await asyncio.gather(*(fetch.call_async(store, url) for url in urls))
        """
        if len(params) != self._param_count:
            raise TypeError(
                f"wrong number of parameters provided: given {len(params)}, expected {self._param_count}"
            )
        run_async = getattr(self._invoke, "run_async", None)
        if run_async is None:
            return self(store, *params)
        return await run_async(store, params)

    def typed(self, store: wasmtime.Storelike, params: Sequence[Any] = (), result: Any = None) -> TypedFunc:
        """This function with declared Python types, checked once (see :mod:`.typed`).

        ``params`` holds one Python type per parameter, ``result`` the result's
        (``None`` when there is none).  A mismatch raises ``TypeError``:
        "type mismatch with parameters: ..." / "type mismatch with results: ...".
        The returned :class:`TypedFunc` calls exactly like this ``Func``, at
        its own cost: a check made once, not a faster call.  For typed Python
        values (dataclasses, enums) generate bindings (``wasmcomponent bindgen``).
        """
        check_signature(self._type, params, result)
        cls = _typed_class(type(self))  # type: ignore[arg-type]
        typed = cls.__new__(cls)
        for name in Func.__slots__:
            try:
                setattr(typed, name, getattr(self, name))
            except AttributeError:
                pass
        typed._declared = (tuple(params), result)
        return typed

    def post_return(self, store: wasmtime.Storelike) -> None:
        """Compatibility no-op: post-return already ran at the end of the call, as in wasmtime 50."""

    def type(self, store: wasmtime.Storelike) -> Any:
        """The function's ``FuncType``, with the resource types of this instance."""
        from .types import functype_from_model

        if self._public_type is None:
            from .handles import get_handles

            handles = get_handles(self._state)

            def runtime_identity(identity: model.ResourceIdentity) -> model.ResourceIdentity:
                found = handles.resources.get(identity)
                ty = getattr(found, "type", None)
                return identity if ty is None else ty._identity

            self._public_type = model.substitute_resources(self._type, runtime_identity)
        # A new view each time: the caller may close it (wasmtime-py's FuncType is closable).
        return functype_from_model(self._public_type)

    def params(self, store: wasmtime.Storelike) -> list[tuple[str, Any]]:
        """The parameters as ``(name, ValType)`` pairs."""
        return list(self.type(store).params)

    def results(self, store: wasmtime.Storelike) -> Optional[Any]:
        """The result ``ValType``, or None."""
        return self.type(store).result


class TypedFunc(Func):
    """A ``Func`` whose Python types were declared and checked once (``Func.typed``)."""

    __slots__ = ()

    @property
    def declared(self) -> tuple[tuple[Any, ...], Any]:
        """The declared ``(params, result)`` Python types."""
        return self._declared


@cache
def _typed_class(base: type[Func]) -> type[TypedFunc]:
    if base is Func:
        return TypedFunc
    cls = type("TypedFunc", (TypedFunc, base), {"__slots__": (), "__module__": Func.__module__})
    cls.__qualname__ = "TypedFunc"
    return cls


def make_func(state: Any, item: p.ExportFunc) -> Func:
    """The ``Func`` for an exported function of the instance ``state``."""
    target = item.func
    if isinstance(target, p.LiftedFunc) and state.uses_async:
        from .async_calls import async_export

        return Func._new(async_export(state, item), item.type, state)
    if isinstance(target, p.LiftedFunc):
        call = LiftedCall(state, target)
        return _lifted_func(call, item.type, state)
    definition = state.host_item(target)
    if isinstance(definition, FuncDefinition):
        host = definition.func
        return Func._new(lambda store, args: host(store, *args), item.type, state)
    assert isinstance(definition, TrapDefinition)
    from .trampolines import unknown_import_trap

    def trap(store: Any, args: tuple) -> Any:
        raise unknown_import_trap(definition.name)

    return Func._new(trap, item.type, state)


# ------------------------------------------------------------ generated call paths


def _lifted_func(call: LiftedCall, ty: model.FuncType, state: Any) -> Func:
    pieces = call.pieces()
    shape = _call_shape(pieces)
    cls = _func_class(shape)
    self = cls.__new__(cls)
    invoke = call.invoke
    self._invoke = lambda store, args: invoke(args)
    self._type = ty
    self._param_count = len(ty.params)
    self._state = state
    self._public_type = None
    self._raw = pieces.raw
    self._ss = pieces.store_state
    self._flags = pieces.flags
    self._post = pieces.post_return
    self._cx = pieces.cx
    self._lower = pieces.compiled.lower_params
    self._lift = pieces.compiled.host_lift_results()
    inline_params = shape[1]
    self._slow = (
        tuple(_param_piece(t, f"parameter `{n}`") for n, t in pieces.type.params)
        if inline_params is not None
        else ()
    )
    return self


def _param_piece(t: model.ValType, where: str) -> Any:
    """What the generated code needs for one parameter of an inline shape (see ``Func._slow``)."""
    if isinstance(t, (model.OwnType, model.BorrowType)):
        return (t.resource, where)
    return flat_scalar_lowerer(t, where)


# An inline parameter is its scalar type, or "own"/"borrow" for a handle (the
# resource itself is per instance, in ``Func._slow``).
InlineParam = Union[model.ValType, str]
Shape = tuple[int, Optional[tuple[InlineParam, ...]], Optional[model.ValType], bool, int, bool, bool]


def _call_shape(pieces: CallPieces) -> Shape:
    """``(arity, inline param types or None, inline result or None, result inline?, flat results, post, handles)``."""
    ft = pieces.type
    types = tuple(t for _, t in ft.params)
    inline_ok = not pieces.compiled.interpreted
    inline_params: Optional[tuple[InlineParam, ...]] = None
    if inline_ok and len(flatten_types(types)) <= MAX_FLAT_PARAMS:
        if not pieces.has_handles:
            if all(is_inline_scalar(t) for t in types):
                inline_params = types
        elif all(is_inline_scalar(t) or isinstance(t, (model.OwnType, model.BorrowType)) for t in types):
            inline_params = tuple(_handle_kind(t) for t in types)
    # A scalar result is lifted inline whatever the parameters carry.
    result_inline = inline_ok and (ft.result is None or is_inline_scalar(ft.result))
    result = ft.result if result_inline and ft.result is not None else None
    return (
        len(types),
        inline_params,
        result,
        result_inline,
        pieces.result_count,
        pieces.post_return is not None,
        pieces.has_handles,
    )


def _handle_kind(t: model.ValType) -> InlineParam:
    if isinstance(t, model.OwnType):
        return "own"
    if isinstance(t, model.BorrowType):
        return "borrow"
    return t


@cache
def _func_class(shape: Shape) -> type[Func]:
    source = _call_source(shape)
    namespace: dict[str, Any] = {
        "cannot_enter": cannot_enter,
        "is_uncaught": is_uncaught_exception,
        "uncaught": uncaught_exception,
        "ComponentTrap": ComponentTrap,
        "CallScope": CallScope,
        "BaseException": BaseException,
        "TypeError": TypeError,
        "ValueError": ValueError,
        "prefix_error": prefix_error,
        "ResourceHost": ResourceHost,
        "RuntimeResource": RuntimeResource,
        "ResourceHandle": ResourceHandle,
    }
    exec(compile(source, f"<Func.__call__ {shape[:3]}>", "exec"), namespace)
    call = namespace["__call__"]
    call.__doc__ = Func.__call__.__doc__
    cls = type("Func", (Func,), {"__slots__": (), "__call__": call, "__module__": Func.__module__})
    cls.__qualname__ = "Func"
    return cls


def _call_source(shape: Shape) -> str:
    arity, inline_params, result, result_inline, nresults, has_post, has_handles = shape
    names = [f"a{i}" for i in range(arity)]
    lines = [
        "def __call__(self, store, *params):",
        f"    if len(params) != {arity}:",
        "        raise TypeError(f'wrong number of parameters provided: given {len(params)}, "
        f"expected {arity}')",
        "    ss = self._ss",
        "    flags = self._flags",
        "    if ss.poisoned or not flags.may_enter:",
        "        raise cannot_enter()",
    ]
    body: list[str] = []
    if inline_params is not None and has_handles:
        body += _handle_params_source(inline_params, names)
        raw_args = ", ".join(names)
    elif inline_params is not None:
        if arity:
            body.append(f"{', '.join(names)}, = params")
        for i, t in enumerate(inline_params):
            assert not isinstance(t, str)
            body += inline_lower(t, names[i], f"self._slow[{i}]")
        body.append("flags.may_enter = False")
        raw_args = ", ".join(names)
    else:
        if not has_handles:
            body.append("cx = self._cx")
        body += [
            "flags.may_enter = False",
            "flags.may_leave = False",
            "try:",
            "    flat = self._lower(cx, params)",
            "except ComponentTrap:",
            "    ss.poisoned = True",
            "    raise",
            "except BaseException:",
            "    flags.may_enter = True",
        ]
        if has_handles:
            body.append("    scope.release_lends()")
        body += [
            "    raise",
            "finally:",
            "    flags.may_leave = True",
        ]
        raw_args = "*flat"
    flat = {0: "()", 1: "(r,)"}.get(nresults, "r")
    body += ["try:", f"    r = self._raw({raw_args})"]
    if has_handles:
        # ``exit_guest_call`` does nothing when both are empty.
        body += ["    if scope.borrows or scope.lenders:", "        scope.exit_guest_call()"]
    if result_inline:
        body.append(f"    result = {inline_lift(result, 'r') if result is not None else 'None'}")
    else:
        if inline_params is not None and not has_handles:
            body.append("    cx = self._cx")
        body.append(f"    result = self._lift(cx, {flat})")
    if has_post:
        post_args = {0: "", 1: "r"}.get(nresults, "*r")
        body += [
            "    flags.may_leave = False",
            "    try:",
            f"        self._post({post_args})",
            "    finally:",
            "        flags.may_leave = True",
        ]
    body += [
        "except BaseException as error:",
        "    ss.poisoned = True",
        "    if is_uncaught(error):",
        "        raise uncaught() from None",
        "    raise",
        "flags.may_enter = True",
        "return result",
    ]
    if has_handles:
        lines += [
            "    cx = self._cx",
            "    previous = cx.scope",
            "    cx.scope = scope = CallScope()",
            "    try:",
            *("        " + line for line in body),
            "    finally:",
            "        cx.scope = previous",
        ]
    else:
        lines += ["    " + line for line in body]
    return "\n".join(lines) + "\n"


def _handle_params_source(params: tuple[InlineParam, ...], names: list[str]) -> list[str]:
    """Lowering of scalar and ``own``/``borrow`` parameters, in order, as the generic path does.

    ``may_enter``/``may_leave`` are cleared around the lowering; a trap
    poisons the store, any other error restores ``may_enter`` and gives back
    the handles lent so far; errors are prefixed with the parameter as
    ``lower_params`` does.  Runs inside the call's borrow scope (``cx``, ``scope``).
    """
    lines: list[str] = []
    if names:
        lines += [f"{', '.join(names)}, = params", "slow = self._slow"]
    lines += ["flags.may_enter = False", "flags.may_leave = False", "try:"]
    for i, t in enumerate(params):
        var = names[i]
        if t == "borrow":
            # A ``ResourceHost`` lent to a guest that does not define it: the
            # table insertion of ``HandleContext.lower_borrow``, inlined (any
            # other value, or a failed check, takes ``lower_borrow`` itself).
            lines += [
                f"    rt = cx.resources.get(slow[{i}][0]) if {var}.__class__ is ResourceHost else None",
                f"    if rt.__class__ is RuntimeResource and rt.is_host and rt.key == {var}._type:",
                "        table = cx.table",
                f"        handle = ResourceHandle(rt, {var}._rep, False, scope)",
                "        if table.free:",
                f"            {var} = table.free.pop()",
                f"            table.array[{var}] = handle",
                "        else:",
                f"            {var} = table.add(handle)",
                "        scope.borrows += 1",
                "    else:",
            ]
            indent = "        "
        else:
            indent = "    "
        if isinstance(t, str):
            lines += [
                indent + "try:",
                f"{indent}    {var} = cx.lower_{t}(slow[{i}][0], {var})",
                indent + "except (TypeError, ValueError) as err:",
                f"{indent}    raise prefix_error(err, slow[{i}][1]) from None",
            ]
        else:
            lines += ["    " + line for line in inline_lower(t, var, f"slow[{i}]")]
    if not params:
        lines.append("    pass")
    lines += [
        "except ComponentTrap:",
        "    ss.poisoned = True",
        "    raise",
        "except BaseException:",
        "    flags.may_enter = True",
        "    scope.release_lends()",
        "    raise",
        "finally:",
        "    flags.may_leave = True",
    ]
    return lines
