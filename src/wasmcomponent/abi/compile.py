"""Specialised lifting/lowering code per function signature.

:func:`compile_func` turns a :class:`FuncType` into four call-time functions
(:class:`CompiledFunc`) built once and cached:

* ``lower_params(cx, args) -> flat``       host -> guest export: Python args to core args
* ``lift_results(cx, flat) -> value``      guest export results to a Python value
* ``lift_params(cx, flat) -> values``      guest -> host import: core args to Python values
* ``lower_results(cx, value, flat) -> flat`` host import result to core results
  (stored through the guest's out-pointer, the last of ``flat``, when spilled)

They are composed from per-type code built once: :mod:`.load` (lifting),
:mod:`.store` (lowering), :mod:`.variant_code` and :mod:`.fast_strings`
(generated code for variants and utf-8 strings), so a call does no type
dispatch.  Each piece is small enough to check against the spec function it
replaces (named in its builder's docstring), and the property tests compare
them with the interpreters (:mod:`.lift`, :mod:`.lower`) value for value,
trap for trap and realloc call for realloc call.  :mod:`.inline` holds the
snippets the runtime splices into its generated call paths for scalar
parameters and results.

This module adds the signature level: the flat/spilled choice
(``MAX_FLAT_PARAMS``/``MAX_FLAT_RESULTS``), error prefixes per parameter,
hostcall fuel refilled for every host-side lift, and one-function fast paths
for the most common signatures (one ``string`` or variant parameter, a
``string`` result, spilled integer parameters).

Async signatures (``canon lift``/``canon lower`` with the ``async`` option)
-------------------------------------------------------------------------
``compile_func(ft, lower_async=True)`` (spec ``canon_lower``, async branch):
``lift_params`` reads at most ``MAX_FLAT_ASYNC_PARAMS`` (4) flat params,
else one pointer to them, and ``lower_results`` always stores the result
through the out-pointer (the last flat param, alignment- and bounds-checked
with the ``param`` messages, as wasmtime's host.rs), returning no flat
values.  ``compile_func(ft, lift_async=True)``: ``lower_params`` is the
synchronous one and there is no ``lift_results`` (reading it raises
``AttributeError``): the result arrives through ``task.return``, whose
lifter :func:`compile_task_return` builds (also ``CompiledFunc.task_return``):
its core params are the flattened result, spilled to one pointer past
``MAX_FLAT_PARAMS`` (spec ``canon_task_return``), checked with the
``result`` messages (wasmtime lifts it with ``Func::lift_results``).  The
synchronous cache entries and closures are unchanged by these options.

Streams, futures and error contexts cross as one ``i32`` handle through the
context's hooks (see :mod:`.context`); their buffers are :mod:`.buffers`.

``WASMCOMPONENT_FORCE_INTERPRETER=1`` (or ``interpret=True``) makes
:func:`compile_func` return wrappers around the interpreters instead.  So
does ``memory64=True``: the generated code assumes 4-byte pointers, while the
interpreters read the pointer width from the context (``cx.memory64``), so
signatures lifted or lowered with a 64-bit memory run on them.  The
interpreted functions do not depend on the width, so both share one entry.
"""


from __future__ import annotations

import os
import struct
from functools import cache, cached_property, lru_cache
from typing import Any, Callable, Optional, Sequence

from ..types.abi import (
    MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
    alignment,
    case_types,
    elem_size,
    field_offsets,
    flatten_type,
    flatten_types,
)
from ..types.model import (
    INTEGER_RANGES,
    STRING,
    FuncType,
    ListType,
    MapType,
    OptionType,
    PrimType,
    RecordType,
    ResultType,
    TupleType,
    ValType,
    VariantType,
)
from ..types.values import (
    prefix_error,
)
from . import lift as interp_lift
from . import lower as interp_lower
from .context import LiftLowerContext
from .fast_strings import (
    lift_string_result,
    string_param_lowerer,
)
from .formats import INT_CODE, INT_SIZE, M32, define
from .inline import flat_scalar_lowerer, inline_lift, inline_lower, is_inline_scalar
from .load import flat_lifter, loader
from .refs import detaching
from .store import flat_lowerer, storer
from .variant_code import variant_param_lowerer

# The inline snippets are re-exported for runtime modules that import them from here.
__all__ = [
    "CompiledFunc",
    "compile_func",
    "compile_task_return",
    "MAX_FLAT_ASYNC_PARAMS",
    "FORCE_INTERPRETER_ENV",
    "flat_scalar_lowerer",
    "inline_lift",
    "inline_lower",
    "is_inline_scalar",
]

FORCE_INTERPRETER_ENV = "WASMCOMPONENT_FORCE_INTERPRETER"
# Flat params of a `canon lower ... async` function before they spill (spec definitions.py).
MAX_FLAT_ASYNC_PARAMS = 4

LiftFn = Callable[[LiftLowerContext, Sequence[Any]], Any]


class CompiledFunc:
    """The four call-time functions of one signature (see the module docstring).

    Each is built on first use: a component importing fifty WASI functions
    only ever needs the host-side half of each (``lift_params``,
    ``lower_results``), most of them are never called, and building every
    closure up front made the first instantiation of such a component slow.

    ``lower_async``/``lift_async`` select the async canonical ABI of the
    import side (``lift_params``, ``lower_results``) and of the export side
    (``lower_params``, no ``lift_results``); see the module docstring.
    ``params_spill`` and ``results_spill`` are the synchronous choices;
    ``lift_params_spill`` is the one ``lift_params`` makes.
    """

    def __init__(self, ft: FuncType, interpret: bool, lower_async: bool = False, lift_async: bool = False) -> None:
        self.param_types = tuple(t for _, t in ft.params)
        self.names = tuple(n for n, _ in ft.params)
        self.results: tuple[ValType, ...] = (ft.result,) if ft.result is not None else ()
        flat_params = len(flatten_types(self.param_types))
        self.params_spill = flat_params > MAX_FLAT_PARAMS
        self.results_spill = len(flatten_types(self.results)) > MAX_FLAT_RESULTS
        self.lower_async = lower_async
        self.lift_async = lift_async
        self.lift_params_spill = flat_params > MAX_FLAT_ASYNC_PARAMS if lower_async else self.params_spill
        self.interpreted = interpret
        # Lifts that copy out of memory start with a full tank of hostcall fuel.
        self._fuelled = any(_uses_memory(t) for t in self.param_types + self.results)

    @cached_property
    def _interpreters(self) -> tuple[Any, Any, Any, Any]:
        return _interpreted(
            self.param_types, self.names, self.results, self.params_spill, self._results_out_pointer, self.lower_async
        )

    @cached_property
    def lower_params(self) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
        """Host -> guest export: Python arguments to core arguments."""
        if self.interpreted:
            return self._interpreters[0]  # type: ignore[no-any-return]
        return _make_lower_params(self.param_types, self.names, self.params_spill)

    @cached_property
    def _results_lifter(self) -> LiftFn:
        return _make_lift_results(self.results, self.results_spill)

    @cached_property
    def lift_results(self) -> LiftFn:
        """Guest export results to a Python value (none for an async lift: see :attr:`task_return`)."""
        if self.lift_async:
            raise AttributeError("an async-lifted function returns its result through `task.return`: use task_return")
        lift = self._interpreters[1] if self.interpreted else self._results_lifter
        return _refuelling(lift) if self._fuelled else lift

    @cached_property
    def lift_params(self) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
        """Guest -> host import: core arguments to Python values."""
        lift = self._interpreters[2] if self.interpreted else _make_lift_params(self.param_types, self.lift_params_spill)
        return _refuelling(lift) if self._fuelled else lift

    @cached_property
    def lower_results(self) -> Callable[[LiftLowerContext, Any, Sequence[Any]], list]:
        """Host import result to core results (through the out-pointer, the last of ``flat``, when spilled)."""
        if self.interpreted:
            return self._interpreters[3]  # type: ignore[no-any-return]
        # An async lower stores any result with flat values through the out-pointer.
        return _make_lower_results(self.results, self._results_out_pointer)

    @property
    def _results_out_pointer(self) -> bool:
        """Whether the import's result goes through an out-pointer (the last flat param)."""
        return self.results_spill or (self.lower_async and bool(flatten_types(self.results)))

    def out_pointer(self, cx: LiftLowerContext, flat: Sequence[Any]) -> int | None:
        """Check the import's out-pointer (the last of ``flat``) now; ``None`` when it has none.

        Wasmtime validates an async lower's out-pointer when the call starts
        (``func/host.rs``), the spec only when the result is stored; the
        runtime may call this to trap as early as wasmtime.
        """
        if not self._results_out_pointer:
            return None
        t = self.results[0]
        m64 = cx.memory64
        return cx.check_pointer(flat[-1], elem_size(t, m64), alignment(t, m64), "param")

    @cached_property
    def task_return(self) -> LiftFn:
        """``task.return``'s core params to the result value (:func:`compile_task_return`)."""
        return _compile_task_return(self.results[0] if self.results else None, self.interpreted)

    def host_lift_results(self) -> LiftFn:
        """The results lifter to use with a context whose ``fused`` is false.

        The same function without the detaching wrapper, which only acts when fused.
        """
        undetached = None if self.interpreted else getattr(self._results_lifter, "undetached", None)
        if undetached is None:
            return self.lift_results
        return _refuelling(undetached) if self._fuelled else undetached  # type: ignore[no-any-return]


def compile_func(
    ft: FuncType,
    string_encoding: str = "utf8",
    *,
    interpret: bool | None = None,
    memory64: bool = False,
    lower_async: bool = False,
    lift_async: bool = False,
) -> CompiledFunc:
    """Build (or fetch from the cache) the lift/lower functions of ``ft``.

    The closures do not depend on ``string_encoding`` (it is read from the
    context at call time); it is accepted so callers can key on it.
    ``memory64`` (a 64-bit ``memory`` option) selects the interpreters.
    ``lower_async``/``lift_async`` are the ``async`` option of the ``canon
    lower``/``canon lift`` the functions serve (module docstring).
    """
    if memory64:
        interpret = True
    elif interpret is None:
        interpret = os.environ.get(FORCE_INTERPRETER_ENV, "") not in ("", "0")
    # Hashing a big nested FuncType costs more than the lookup saves: types
    # are shared objects, so look them up by identity first.  The entry holds
    # ``ft``, so its id cannot be reused while the entry exists.
    key: tuple[Any, ...] = (
        (id(ft), interpret) if not (lower_async or lift_async) else (id(ft), interpret, lower_async, lift_async)
    )
    found = _BY_IDENTITY.get(key)
    if found is not None and found[0] is ft:
        return found[1]
    compiled = _compile_func(ft, interpret, lower_async, lift_async)
    if len(_BY_IDENTITY) >= _BY_IDENTITY_LIMIT:
        _BY_IDENTITY.clear()  # bounded: types of components long gone must not pile up
    _BY_IDENTITY[key] = (ft, compiled)
    return compiled


_BY_IDENTITY: dict[tuple[Any, ...], tuple[FuncType, CompiledFunc]] = {}
_BY_IDENTITY_LIMIT = 4096


@cache
def _compile_func(ft: FuncType, interpret: bool, lower_async: bool, lift_async: bool) -> CompiledFunc:
    return CompiledFunc(ft, interpret, lower_async, lift_async)


def compile_task_return(
    result: Optional[ValType], string_encoding: str = "utf8", memory64: bool = False, *, interpret: bool | None = None
) -> LiftFn:
    """``lift(cx, flat) -> value`` for ``canon task.return`` of ``result`` (spec ``canon_task_return``).

    ``flat`` are task.return's core arguments: the flattened result, or one
    pointer to it when it has more than ``MAX_FLAT_PARAMS`` flat values.  A
    bad pointer traps with the ``result`` messages; the lift starts with a
    full tank of hostcall fuel.  ``None`` (no result) lifts to ``None``.
    ``string_encoding`` is read from the context at call time, as in
    :func:`compile_func`; ``memory64`` selects the interpreters.
    """
    if memory64:
        interpret = True
    elif interpret is None:
        interpret = os.environ.get(FORCE_INTERPRETER_ENV, "") not in ("", "0")
    return _compile_task_return(result, interpret)


@lru_cache(maxsize=1024)  # bounded: results of components long gone must not pile up
def _compile_task_return(result: Optional[ValType], interpret: bool) -> LiftFn:
    results = (result,) if result is not None else ()
    spill = len(flatten_types(results)) > MAX_FLAT_PARAMS
    if interpret:

        @detaching
        def lift_task_return(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
            values = interp_lift.lift_flat_values(cx, MAX_FLAT_PARAMS, interp_lift.CoreValueIter(flat), results)
            return values[0] if values else None

        lift: LiftFn = lift_task_return
    else:
        lift = _make_lift_results(results, spill)
    fuelled = result is not None and _uses_memory(result)
    return _refuelling(lift) if fuelled else lift


def _refuelling(lift: Callable[[LiftLowerContext, Sequence[Any]], Any]) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """``lift`` starting with a full tank of hostcall fuel (wasmtime refills it for every lift).

    A lifter marked ``refuels`` does it itself (one frame less on a hot path).
    """
    if getattr(lift, "refuels", False):
        return lift

    def lift_with_fuel(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
        cx.refuel()
        return lift(cx, flat)

    return lift_with_fuel


def _interpreted(
    param_types: tuple[ValType, ...],
    names: tuple[str, ...],
    results: tuple[ValType, ...],
    params_spill: bool,
    results_out_pointer: bool,
    lower_async: bool = False,
) -> tuple[Any, Any, Any, Any]:
    max_lifted_params = MAX_FLAT_ASYNC_PARAMS if lower_async else MAX_FLAT_PARAMS
    # an async lower stores any result through the out-pointer (spec max_flat_results = 0)
    max_lowered_results = 0 if lower_async else MAX_FLAT_RESULTS

    def lower_params(cx: LiftLowerContext, args: Sequence[Any]) -> list:
        return interp_lower.lower_flat_values(cx, MAX_FLAT_PARAMS, list(args), param_types, names=names)

    @detaching
    def lift_results(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
        values = interp_lift.lift_flat_values(cx, MAX_FLAT_RESULTS, interp_lift.CoreValueIter(flat), results)
        return values[0] if values else None

    def lift_params(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
        vi = interp_lift.CoreValueIter(flat)
        return interp_lift.lift_flat_values(cx, max_lifted_params, vi, param_types, "param")

    def lower_results(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
        if not results:
            return []
        out_param = flat_args[-1] if results_out_pointer else None
        return interp_lower.lower_flat_values(cx, max_lowered_results, [value], results, out_param)

    return lower_params, lift_results, lift_params, lower_results


# ------------------------------------------------------------ signatures


def _make_lower_params(
    types: tuple[ValType, ...], names: tuple[str, ...], spill: bool
) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spec ``lower_flat_values`` with ``MAX_FLAT_PARAMS`` and no out-param."""
    wheres = tuple(f"parameter `{n}`" for n in names)
    if spill:
        tuple_type = TupleType(types)
        size, align = elem_size(tuple_type), alignment(tuple_type)
        storers = tuple(zip(wheres, (storer(t) for t in types), field_offsets(types), strict=False))

        def store_params(cx: LiftLowerContext, mv: memoryview, args: Sequence[Any], ptr: int) -> list:
            for (where, st, off), v in zip(storers, args, strict=False):
                try:
                    mv = st(cx, mv, v, ptr + off)
                except (TypeError, ValueError) as err:
                    raise prefix_error(err, where) from None
            return [ptr]

        def lower_params_spilled(cx: LiftLowerContext, args: Sequence[Any]) -> list:
            ptr, mv = cx.allocate(align, size, "tuple")
            return store_params(cx, mv, args, ptr)

        if all(isinstance(t, PrimType) and t.name in INT_CODE for t in types):
            return _spilled_ints_lowerer(types, align, size, store_params)
        return lower_params_spilled
    lowerers = tuple(zip(wheres, (flat_lowerer(t, flatten_type(t)) for t in types), strict=False))
    if len(lowerers) == 1:
        ((where0, low0),) = lowerers

        def lower_param(cx: LiftLowerContext, args: Sequence[Any]) -> list:
            out: list = []
            try:
                low0(cx, args[0], out)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, where0) from None
            return out

        (t0,) = types
        if t0 == STRING:
            return string_param_lowerer(where0)
        if isinstance(t0, (VariantType, OptionType, ResultType)):
            fast = variant_param_lowerer(t0, flatten_type(t0), where0, lower_param)
            if fast is not None:
                return fast
        return lower_param

    def lower_params(cx: LiftLowerContext, args: Sequence[Any]) -> list:
        out: list = []
        for (where, low), v in zip(lowerers, args, strict=False):
            try:
                low(cx, v, out)
            except (TypeError, ValueError) as err:
                raise prefix_error(err, where) from None
        return out

    return lower_params


def _spilled_ints_lowerer(
    types: tuple[ValType, ...],
    align: int,
    size: int,
    store_params: Callable[[LiftLowerContext, memoryview, Sequence[Any], int], list],
) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spilled integer parameters: one range test per value, then one ``struct`` pack.

    Generated code; when any value fails its inline test, ``store_params``
    (the per-parameter storers) stores them in order and raises the precise
    error, so memory and errors are exactly those of the general path.
    """
    fmt = "<"
    pos = 0
    tests = []
    for i, (t, off) in enumerate(zip(types, field_offsets(types), strict=True)):
        name = t.name  # type: ignore[union-attr]
        fmt += "x" * (off - pos) + INT_CODE[name]
        pos = off + INT_SIZE[name]
        lo, hi = INTEGER_RANGES[name]
        tests.append(f"type(a{i}) is int and {lo} <= a{i} <= {hi}")
    names = "".join(f"a{i}, " for i in range(len(types)))
    lines = [
        "def lower_params_spilled(cx, args):",
        f"    ptr, mv = cx.allocate({align}, {size}, 'tuple')",
        f"    {names}= args",
        f"    if {' and '.join(tests)}:",
        f"        pack(mv, ptr, {names})",
        "        return [ptr]",
        "    return store_params(cx, mv, args, ptr)",
    ]
    env: dict[str, Any] = {"pack": struct.Struct(fmt).pack_into, "store_params": store_params}
    lower: Callable[[LiftLowerContext, Sequence[Any]], list] = define(lines, "lower_params_spilled", env)
    return lower


@cache  # types are DAGs: one visit per distinct node, not per path
def _uses_memory(t: ValType) -> bool:
    match t:
        case PrimType(name="string"):
            return True
        case ListType(length=None) | MapType():
            return True
        case ListType(element=elem):
            return _uses_memory(elem)
        case RecordType(fields=fields):
            return any(_uses_memory(ft) for _, ft in fields)
        case TupleType(elements=elements):
            return any(_uses_memory(et) for et in elements)
        case VariantType() | OptionType() | ResultType():
            return any(c is not None and _uses_memory(c) for c in case_types(t))
    return False


def _make_lift_results(results: tuple[ValType, ...], spill: bool) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """Spec ``lift_flat_values`` with ``MAX_FLAT_RESULTS`` (returned pointer when spilled)."""
    if not results:
        return lambda cx, flat: None
    (t,) = results
    if spill:
        size, align = elem_size(t), alignment(t)
        load = loader(t)

        if t == STRING:
            return _detaching(lift_string_result)

        def lift_results_spilled(cx: LiftLowerContext, flat: Sequence[Any]) -> Any:
            # cx.refuel(), then cx.check_pointer(flat[0], size, align, "result") with one memory query
            source = cx.fuel_source
            cx.fuel = None if source is None or cx.fused else source.hostcall_fuel
            mv = cx.memory.view()  # type: ignore[union-attr]
            ptr = flat[0] & M32
            if ptr % align:
                cx.trap("result-align", align=align)
            if ptr + size > len(mv):
                cx.trap("result-bounds")
            return load(cx, mv, ptr)

        lift_results_spilled.refuels = True  # type: ignore[attr-defined]
        return _detaching(lift_results_spilled) if _uses_memory(t) else lift_results_spilled
    lift = flat_lifter(t, 0, flatten_type(t))
    if _uses_memory(t):
        return _detaching(lambda cx, flat: lift(cx, cx.view(), flat))
    return lambda cx, flat: lift(cx, None, flat)


def _detaching(lift: Callable[[LiftLowerContext, Sequence[Any]], Any]) -> Callable[[LiftLowerContext, Sequence[Any]], Any]:
    """``refs.detaching(lift)``, remembering ``lift`` for host calls (``CompiledFunc.lift_results_host``)."""
    wrapped = detaching(lift)
    wrapped.undetached = lift  # type: ignore[attr-defined]
    return wrapped


def _make_lift_params(types: tuple[ValType, ...], spill: bool) -> Callable[[LiftLowerContext, Sequence[Any]], list]:
    """Spec ``lift_flat_values`` with ``MAX_FLAT_PARAMS`` (pointer to spilled params)."""
    if spill:
        tuple_type = TupleType(types)
        size, align = elem_size(tuple_type), alignment(tuple_type)
        loaders = tuple(zip((loader(t) for t in types), field_offsets(types), strict=False))

        def lift_params_spilled(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
            ptr = cx.check_pointer(flat[0], size, align, "param")
            mv = cx.view()
            return [load(cx, mv, ptr + off) for load, off in loaders]

        return lift_params_spilled
    lifters = []
    offset = 0
    for t in types:
        flat_t = flatten_type(t)
        lifters.append(flat_lifter(t, offset, flat_t))
        offset += len(flat_t)
    lifters_t = tuple(lifters)
    needs_memory = any(_uses_memory(t) for t in types)

    def lift_params(cx: LiftLowerContext, flat: Sequence[Any]) -> list:
        mv = cx.view() if needs_memory else None
        return [lift(cx, mv, flat) for lift in lifters_t]

    return lift_params


def _make_lower_results(
    results: tuple[ValType, ...], spill: bool
) -> Callable[[LiftLowerContext, Any, Sequence[Any]], list]:
    """Spec ``lower_flat_values`` with ``MAX_FLAT_RESULTS`` (out-pointer when spilled)."""
    if not results:
        return lambda cx, value, flat_args: []
    (t,) = results
    if spill:
        size, align = elem_size(t), alignment(t)
        st = storer(t)

        def lower_results_spilled(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
            ptr = cx.check_pointer(flat_args[-1], size, align, "param")
            st(cx, cx.view(), value, ptr)
            return []

        return lower_results_spilled
    low = flat_lowerer(t, flatten_type(t))

    def lower_results(cx: LiftLowerContext, value: Any, flat_args: Sequence[Any]) -> list:
        out: list = []
        low(cx, value, out)
        return out

    return lower_results

