"""A data-only binary encoding of a translated ``Plan``.

:func:`dumps` turns a plan (or any value built from the classes registered
below, ``None``, ``bool``, ``int``, ``str``, ``bytes``, tuples, lists and
``dict``s with string keys) into bytes, and :func:`loads` rebuilds it.  Unlike
pickle the decoder can only ever create the values listed here: it rebuilds
objects of an explicit registry of plan and type-model classes (an index into
:data:`_REGISTRY`, never a name looked up at run time), checks every field
against a fixed schema, and runs no code from the data.

The encoding is a postfix program for a stack machine, one opcode byte each::

    NONE | FALSE | TRUE                      push a constant
    INT varint | NEG varint                  push n, or -1 - n
    STR varint utf8 | BYTES varint raw       push a string / bytes of that length
    TUPLE n | LIST n | DICT n                pop n values (DICT: 2n, key first)
    OBJ tag                                  pop the fields of registered class ``tag``
    RESOURCE                                 pop (name, rep): a new ResourceIdentity
    REF index                                push the index-th object built so far

Every object built by ``OBJ`` or ``RESOURCE`` is remembered in build order, so
an object reachable twice (a shared ``FuncType``, and above all a
``ResourceIdentity``, which compares by identity) is encoded once and comes
back shared, as pickle kept it.  ``PrimType`` values come back as the
``types.model`` constants.

Decoding is iterative and linear: each opcode builds at most one value, a
container consumes the values it pops, a length is checked against the bytes
or stack entries that remain, an integer has at most 10 varint bytes, and a
field check walks only the containers its object consumed (containers are
never shared).  Any malformed input raises :class:`~wasmcomponent.errors.DecodeError`
(a ``wasmtime.WasmtimeError``) naming the offset.

What is checked is the shape, not the meaning: an index inside the plan (a
core instance, a trampoline, an options entry) is not range-checked against
the tables it points into.  Serialized components are trusted input anyway
(their core modules are native code); the compile cache authenticates them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Union

from ..errors import DecodeError
from ..types import model
from . import plan as p

__all__ = ["dumps", "loads", "dumps_plan", "loads_plan", "PLAN_SPEC"]

VERSION = 2  # 2: Builtin trampolines, OptionsDef.callback
_PREFIX = b"wcplan" + bytes([VERSION])

NONE, FALSE, TRUE, INT, NEG, STR, BYTES, TUPLE, LIST, DICT, OBJ, RESOURCE, REF = range(13)
_MAX_VARINT_BYTES = 10  # 70 bits: every u64/s64 of a plan fits

# ------------------------------------------------------------------ schema
#
# A spec is one of: a scalar name ("int" for a non-negative int, as every
# integer of a plan is an index, count or limit; "str", "bool", "bytes", "none"),
# ("opt", spec), ("tuple", spec) for a tuple of any length, ("fixed", spec, ...)
# for a tuple of exactly those items, ("list", spec), ("dict", spec) with
# string keys, ("any", spec, ...) for a union, or ("cls", classes).

Spec = Union[str, tuple]


def _cls(*classes: type) -> Spec:
    return ("cls", classes)


VAL = _cls(
    model.PrimType,
    model.ListType,
    model.RecordType,
    model.TupleType,
    model.VariantType,
    model.EnumType,
    model.OptionType,
    model.ResultType,
    model.FlagsType,
    model.OwnType,
    model.BorrowType,
    model.StreamType,
    model.FutureType,
    model.MapType,
)
RESOURCE_ID = _cls(model.ResourceIdentity)
EXTERN = ("any", VAL, _cls(model.FuncType, model.InstanceType, model.ComponentType, model.CoreModuleType, model.TypeBound))
NAMED_VALS = ("tuple", ("fixed", "str", VAL))
CORE_DEF = _cls(p.CoreExport, p.TrampolineRef)
MODULE_REF = _cls(p.StaticModule, p.ImportPath)
SCALAR = ("any", "none", "bool", "int", "str")
# CoreExternType.detail: table/memory/global limits as a flat tuple, or a tag's function type.
CORE_DETAIL = ("any", "none", _cls(model.CoreFuncType), ("tuple", SCALAR))

# The classes the decoder may build, with the spec of each field, in field
# order.  A class's tag is its position here: append only (the serialized
# header carries the wasmcomponent version, so a reordering is refused anyway).
_REGISTRY: tuple[tuple[type, tuple[tuple[str, Spec], ...]], ...] = (
    (model.PrimType, (("name", "str"),)),
    (model.ListType, (("element", VAL), ("length", ("opt", "int")))),
    (model.RecordType, (("fields", NAMED_VALS),)),
    (model.TupleType, (("elements", ("tuple", VAL)),)),
    (model.VariantType, (("variant_cases", ("tuple", ("fixed", "str", ("opt", VAL)))),)),
    (model.EnumType, (("names", ("tuple", "str")),)),
    (model.OptionType, (("payload", VAL),)),
    (model.ResultType, (("ok", ("opt", VAL)), ("err", ("opt", VAL)))),
    (model.FlagsType, (("names", ("tuple", "str")),)),
    (model.OwnType, (("resource", RESOURCE_ID),)),
    (model.BorrowType, (("resource", RESOURCE_ID),)),
    (model.StreamType, (("payload", ("opt", VAL)),)),
    (model.FutureType, (("payload", ("opt", VAL)),)),
    (model.MapType, (("key", VAL), ("value", VAL))),
    (model.FuncType, (("params", NAMED_VALS), ("result", ("opt", VAL)), ("is_async", "bool"))),
    (model.CoreFuncType, (("params", ("tuple", "str")), ("results", ("tuple", "str")))),
    (model.CoreExternType, (("kind", "str"), ("func", ("opt", _cls(model.CoreFuncType))), ("detail", CORE_DETAIL))),
    (
        model.CoreModuleType,
        (
            ("imports", ("tuple", ("fixed", "str", "str", _cls(model.CoreExternType)))),
            ("exports", ("tuple", ("fixed", "str", _cls(model.CoreExternType)))),
        ),
    ),
    (model.TypeBound, (("eq", ("opt", EXTERN)), ("resource", ("opt", RESOURCE_ID)))),
    (model.InstanceType, (("exports", ("dict", EXTERN)),)),
    (model.ComponentType, (("imports", ("dict", EXTERN)), ("exports", ("dict", EXTERN)))),
    (p.CoreExport, (("instance", "int"), ("name", "str"))),
    (p.TrampolineRef, (("index", "int"),)),
    (p.ImportPath, (("import_index", "int"), ("path", ("tuple", "str")))),
    (p.StaticModule, (("index", "int"),)),
    (
        p.OptionsDef,
        (
            ("string_encoding", "str"),
            ("memory", ("opt", CORE_DEF)),
            ("realloc", ("opt", CORE_DEF)),
            ("post_return", ("opt", CORE_DEF)),
            ("component_instance", "int"),
            ("is_async", "bool"),
            ("callback", ("opt", CORE_DEF)),
        ),
    ),
    (p.LiftedFunc, (("core", CORE_DEF), ("type", _cls(model.FuncType)), ("options", "int"))),
    (p.LowerImport, (("func", _cls(p.ImportPath)), ("type", _cls(model.FuncType)), ("options", "int"))),
    (p.LowerLifted, (("callee", _cls(p.LiftedFunc)), ("type", _cls(model.FuncType)), ("options", "int"))),
    (p.ResourceIntrinsic, (("kind", "str"), ("resource", RESOURCE_ID), ("component_instance", "int"))),
    (
        p.InstantiateModule,
        (
            ("instance", "int"),
            ("module", MODULE_REF),
            ("args", ("tuple", CORE_DEF)),
            ("named_args", ("tuple", ("fixed", "str", _cls(p.RuntimeCoreInstance, p.CoreExportBag)))),
        ),
    ),
    (p.RuntimeCoreInstance, (("index", "int"),)),
    (p.CoreExportBag, (("items", ("tuple", ("fixed", "str", CORE_DEF))),)),
    (p.DefineResource, (("resource", RESOURCE_ID), ("dtor", ("opt", CORE_DEF)), ("component_instance", "int"))),
    (p.ExportFunc, (("func", _cls(p.LiftedFunc, p.ImportPath)), ("type", _cls(model.FuncType)))),
    (p.ExportModule, (("module", MODULE_REF),)),
    (p.ExportType, (("type", EXTERN),)),
    (p.ExportComponent, (("type", _cls(model.ComponentType)),)),
)

EXPORT_ITEM = _cls(p.ExportFunc, p.ExportModule, p.ExportType, p.ExportComponent)  # ExportInstance added below
_REGISTRY += (
    (p.ExportInstance, (("items", ("dict", ("any", EXPORT_ITEM, _cls(p.ExportInstance)))),)),
    (
        p.Plan,
        (
            ("imports", ("list", ("fixed", "str", EXTERN))),
            ("modules", ("list", "bytes")),
            ("steps", ("list", _cls(p.InstantiateModule, p.DefineResource))),
            ("trampolines", ("list", _cls(p.LowerImport, p.LowerLifted, p.ResourceIntrinsic, p.Builtin))),
            ("options", ("list", _cls(p.OptionsDef))),
            ("exports", ("dict", ("any", EXPORT_ITEM, _cls(p.ExportInstance)))),
            ("export_types", ("dict", EXTERN)),
            ("num_core_instances", "int"),
            ("num_component_instances", "int"),
            ("component_instance_parents", ("list", ("opt", "int"))),
        ),
    ),
)

# Added with format version 2 (appended: tags of the classes above are unchanged).
_REGISTRY += (
    (
        p.Builtin,
        (
            ("name", "str"),
            ("component_instance", "int"),
            ("options", ("opt", "int")),
            ("type", ("opt", VAL)),
            ("result", ("opt", VAL)),
            ("is_async", "bool"),
            ("cancellable", "bool"),
            ("slot", "int"),
            ("core_type", ("opt", ("fixed", ("tuple", "str"), ("tuple", "str")))),
            ("table", ("opt", CORE_DEF)),
        ),
    ),
)

_TAGS: dict[type, int] = {cls: tag for tag, (cls, _) in enumerate(_REGISTRY)}
PLAN_SPEC: Spec = _cls(p.Plan)

_SCALARS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: type(v) is int and v >= 0,
    "str": lambda v: type(v) is str,
    "bool": lambda v: type(v) is bool,
    "bytes": lambda v: type(v) is bytes,
    "none": lambda v: v is None,
}


def registered_fields(cls: type) -> tuple[str, ...]:
    """The field names the codec stores for ``cls`` (a test compares them with the dataclass's)."""
    return tuple(name for name, _ in _REGISTRY[_TAGS[cls]][1])


def _matches(value: Any, spec: Spec) -> bool:
    """Whether ``value`` has the shape ``spec`` describes (objects are checked by class only)."""
    if isinstance(spec, str):
        return _SCALARS[spec](value)
    kind = spec[0]
    if kind == "cls":
        return type(value) in spec[1]
    if kind == "opt":
        return value is None or _matches(value, spec[1])
    if kind == "any":
        return any(_matches(value, option) for option in spec[1:])
    if kind == "tuple":
        return type(value) is tuple and all(_matches(item, spec[1]) for item in value)
    if kind == "list":
        return type(value) is list and all(_matches(item, spec[1]) for item in value)
    if kind == "fixed":
        return (
            type(value) is tuple
            and len(value) == len(spec) - 1
            and all(_matches(item, sub) for item, sub in zip(value, spec[1:], strict=True))
        )
    if kind == "dict":
        return type(value) is dict and all(type(k) is str and _matches(v, spec[1]) for k, v in value.items())
    raise AssertionError(f"unknown spec {spec!r}")


# ------------------------------------------------------------------ encoding


def _varint(out: bytearray, n: int) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def dumps(value: Any) -> bytes:
    """The encoding of ``value`` (see the module docstring).

    Raises ``ValueError`` for a value outside the registry (a cycle, a
    host-defined resource, an unregistered class): the caller has a bug.
    Iterative, so a deeply nested type cannot exhaust Python's stack.
    """
    out = bytearray(_PREFIX)
    memo: dict[int, int] = {}  # id(object) -> build index
    keep: list[Any] = []  # keeps memoized objects alive so their ids stay unique
    active: set[int] = set()
    # Work items, last pushed first: ("v", value) encodes a value; ("c", op, n)
    # closes a container, ("o", obj, tag) an object and ("r", obj) a resource
    # once everything pushed above them is out (postfix order).
    work: list[tuple] = [("v", value)]
    while work:
        item = work.pop()
        kind = item[0]
        if kind == "c":  # a container's items are out: close it
            out.append(item[1])
            _varint(out, item[2])
            continue
        if kind == "o" or kind == "r":  # an object's fields are out: build it
            obj = item[1]
            if kind == "o":
                out.append(OBJ)
                _varint(out, item[2])
            else:
                out.append(RESOURCE)
            active.discard(id(obj))
            memo[id(obj)] = len(keep)
            keep.append(obj)
            continue
        v = item[1]
        t = type(v)
        if v is None:
            out.append(NONE)
        elif t is bool:
            out.append(TRUE if v else FALSE)
        elif t is int:
            out.append(INT if v >= 0 else NEG)
            _varint(out, v if v >= 0 else -1 - v)
        elif t is str:
            data = v.encode("utf-8", "surrogatepass")
            out.append(STR)
            _varint(out, len(data))
            out += data
        elif t is bytes or t is bytearray:
            out.append(BYTES)
            _varint(out, len(v))
            out += v
        elif t is tuple or t is list:
            work.append(("c", TUPLE if t is tuple else LIST, len(v)))
            work.extend(("v", x) for x in reversed(v))
        elif t is dict:
            work.append(("c", DICT, len(v)))
            for key, x in reversed(list(v.items())):
                if type(key) is not str:
                    raise ValueError(f"cannot serialize a dict key of type {type(key).__name__}")
                work.append(("v", x))
                work.append(("v", key))
        elif id(v) in memo:
            out.append(REF)
            _varint(out, memo[id(v)])
        elif id(v) in active:
            raise ValueError(f"cannot serialize a cycle through {t.__name__}")
        elif t is model.ResourceIdentity:
            if v.host_key is not None or v.dtor is not None:
                raise ValueError("cannot serialize a host-defined resource type")
            active.add(id(v))
            work.append(("r", v))
            work.append(("v", v.rep))
            work.append(("v", v.name))
        elif t in _TAGS:
            tag = _TAGS[t]
            active.add(id(v))
            work.append(("o", v, tag))
            work.extend(("v", getattr(v, name)) for name, _ in reversed(_REGISTRY[tag][1]))
        else:
            raise ValueError(f"cannot serialize a value of type {t.__name__}")
    return bytes(out)


def dumps_plan(plan: p.Plan) -> bytes:
    """:func:`dumps` for a plan."""
    return dumps(plan)


# ------------------------------------------------------------------ decoding


def _fail(message: str, offset: int) -> DecodeError:
    return DecodeError(f"corrupt serialized plan: {message}", offset)


def loads(data: Union[bytes, memoryview], spec: Spec = PLAN_SPEC) -> Any:
    """The value :func:`dumps` encoded in ``data``, which must match ``spec``.

    Raises :class:`~wasmcomponent.errors.DecodeError` for anything malformed.
    ``bytes`` values are copied out of ``data``; nothing else refers to it.
    """
    view = memoryview(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    size = len(view)
    if bytes(view[: len(_PREFIX)]) != _PREFIX:
        raise _fail("not a serialized plan of this version", 0)
    pos = len(_PREFIX)
    stack: list[Any] = []
    built: list[Any] = []

    def varint(at: int) -> tuple[int, int]:
        result = shift = 0
        for i in range(_MAX_VARINT_BYTES):
            if at + i >= size:
                raise _fail("truncated integer", at)
            byte = view[at + i]
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result, at + i + 1
        raise _fail("integer too long", at)

    def pop(n: int, at: int) -> list[Any]:
        if n > len(stack):
            raise _fail(f"{n} values wanted, {len(stack)} available", at)
        if n == 0:
            return []
        values = stack[-n:]
        del stack[-n:]
        return values

    while pos < size:
        start = pos
        op = view[pos]
        pos += 1
        if op == NONE:
            stack.append(None)
        elif op == FALSE:
            stack.append(False)
        elif op == TRUE:
            stack.append(True)
        elif op == INT or op == NEG:
            n, pos = varint(pos)
            stack.append(n if op == INT else -1 - n)
        elif op == STR or op == BYTES:
            n, pos = varint(pos)
            if n > size - pos:
                raise _fail("length beyond the end of the data", start)
            chunk = bytes(view[pos : pos + n])
            pos += n
            if op == BYTES:
                stack.append(chunk)
            else:
                try:
                    stack.append(chunk.decode("utf-8", "surrogatepass"))
                except UnicodeDecodeError:
                    raise _fail("invalid UTF-8 in a string", start) from None
        elif op == TUPLE or op == LIST:
            n, pos = varint(pos)
            values = pop(n, start)
            stack.append(tuple(values) if op == TUPLE else values)
        elif op == DICT:
            n, pos = varint(pos)
            if n > len(stack) // 2:
                raise _fail(f"{n} dict entries wanted, {len(stack)} values available", start)
            values = pop(2 * n, start)
            result: dict[str, Any] = {}
            for key, value in zip(values[0::2], values[1::2], strict=True):
                if type(key) is not str:
                    raise _fail("a dict key is not a string", start)
                result[key] = value
            if len(result) != n:
                raise _fail("duplicate dict key", start)
            stack.append(result)
        elif op == OBJ:
            tag, pos = varint(pos)
            if tag >= len(_REGISTRY):
                raise _fail(f"unknown object tag {tag}", start)
            cls, fields = _REGISTRY[tag]
            values = pop(len(fields), start)
            for (name, field_spec), value in zip(fields, values, strict=True):
                if not _matches(value, field_spec):
                    raise _fail(f"field `{name}` of {cls.__name__} has the wrong type", start)
            obj = _build(cls, fields, values, start)
            built.append(obj)
            stack.append(obj)
        elif op == RESOURCE:
            name, rep = pop(2, start)
            if type(name) is not str or type(rep) is not str:
                raise _fail("a resource's name and representation must be strings", start)
            identity = model.ResourceIdentity(name)
            identity.rep = rep
            built.append(identity)
            stack.append(identity)
        elif op == REF:
            index, pos = varint(pos)
            if index >= len(built):
                raise _fail(f"reference {index} to an object not built yet", start)
            stack.append(built[index])
        else:
            raise _fail(f"unknown opcode {op}", start)
    if len(stack) != 1:
        raise _fail(f"{len(stack)} values at the end, expected one", size)
    (value,) = stack
    if not _matches(value, spec):
        raise _fail("the top-level value has the wrong type", size)
    return value


def _build(cls: type, fields: tuple[tuple[str, Spec], ...], values: list[Any], at: int) -> Any:
    """An instance of registered class ``cls`` from checked field values."""
    if cls is model.PrimType:
        prim = model.PRIMITIVES.get(values[0])
        if prim is None:
            raise _fail(f"unknown primitive type {values[0]!r}", at)
        return prim
    try:
        return cls(**{name: value for (name, _), value in zip(fields, values, strict=True)})
    except (TypeError, ValueError) as err:  # pragma: no cover - the field checks above prevent it
        raise _fail(f"cannot build {cls.__name__}: {err}", at) from None


def loads_plan(data: Union[bytes, memoryview]) -> p.Plan:
    """:func:`loads` for a plan."""
    plan: p.Plan = loads(data, PLAN_SPEC)
    return plan


def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of ``cls`` set by its constructor (what :func:`registered_fields` must
    equal); a cached hash is not part of the data."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def registered_classes() -> tuple[type, ...]:
    """Every class the decoder may build, ``ResourceIdentity`` aside."""
    return tuple(cls for cls, _ in _REGISTRY)

