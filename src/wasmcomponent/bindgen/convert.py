"""Python annotations and generated conversion code, specialised per type.

The runtime speaks wasmtime-py's value model (``Record``, ``str`` enums,
``set[str]`` flags, untagged or :class:`~wasmcomponent.Variant` variants);
the bindings speak componentize-py's (dataclasses, ``Enum``, ``Flag``, one
class per variant case, ``Optional``/``Some``, ``Ok``/``Err``).  For each
type, :class:`Converter` writes the Python that converts one way or the
other: ``py`` converts a runtime value into the bindings' value, ``wit`` the
reverse.  Nothing is decided per call that can be decided here: a type whose
two representations coincide (numbers, strings, ``bytes``, lists of those, a
dataclass whose fields all pass as they are under their WIT names) gets no
conversion at all, and every other type gets one small function, written
once per module and named after the type (``_from_wit_Point``,
``_to_wit_Point``) or numbered (``_from_wit_3``), so that the generated
source is linear in the number of distinct types, however deeply they are
shared.  Enums are dictionary lookups, variants one conditional expression
on the value's exact class (inlined in the comprehension of a list of them),
flags cached per value.

    >>> from wasmcomponent.types import model as m
    >>> from .world import build_world
    >>> point = m.RecordType((("x", m.S32), ("y", m.S32)))
    >>> world = build_world(m.ComponentType({}, {"a:b/c": m.InstanceType({"point": m.TypeBound(eq=point)})}))
    >>> conv = Converter(world, world.exports[0])
    >>> conv.annotation(m.ListType(point)), conv.wit(m.ListType(point), "v"), conv.py(point, "r", "w")
    ('list[Point]', None, '_from_wit_Point(r)')
"""

from __future__ import annotations

from typing import Iterable, Optional

from ..errors import UnsupportedError
from ..types import model
from ..types.values import is_tagged, python_classes
from .world import Interface, NamedType, World

__all__ = ["Converter", "MAX_DEPTH"]

# Deeper types are refused: the generator recurses once per level.
MAX_DEPTH = 100
# A longer annotation is written ``Any``: shared subtrees would otherwise spell out exponentially.
MAX_ANNOTATION = 2000

_PRIMS = {"bool": "bool", "f32": "float", "f64": "float", "char": "str", "string": "str"}

# How generated code names the Python classes that runtime values lift to.
_CLASS_NAMES = {
    bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes", list: "list",
    tuple: "tuple", set: "set", dict: "dict",
}


def _class_expr(cls: type) -> Optional[str]:
    name = _CLASS_NAMES.get(cls)
    if name is not None:
        return name
    if cls.__name__ in ("Record", "Variant", "ResourceAny", "ResourceHost"):
        return f"_wc.{cls.__name__}"
    return None


class Converter:
    """Annotations and conversions for the module of ``scope`` (None: the package's ``__init__``).

    ``helpers`` collects the source of the functions it writes for anonymous
    types; ``modules`` the other interface modules the code refers to.
    """

    def __init__(self, world: World, scope: Optional[Interface]) -> None:
        self.world = world
        self.scope = scope
        self.helpers: list[str] = []
        self.modules: dict[str, Interface] = {}
        self._helper_names: dict[tuple[str, object], str] = {}
        self._annotations: dict[object, str] = {}
        self._identity: dict[tuple[str, object], bool] = {}

    # ------------------------------------------------------------ names

    def ref(self, iface: Interface, name: str) -> str:
        """``name`` defined in ``iface``'s module, as this module spells it."""
        if iface is self.scope:
            return name
        alias = f"_{iface.direction[0]}_{iface.module}"
        self.modules[alias] = iface
        return f"{alias}.{name}"

    def named(self, ty: model.ValType) -> Optional[NamedType]:
        return self.world.named(ty, self.scope)

    def wrapped_resource(self, ty: model.ValType) -> Optional[str]:
        """The class of an exported resource's ``own``/``borrow``, or None."""
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            found = self.world.resource(ty.resource)
            if found is not None:
                return self.ref(found.home, found.py_name)
        return None

    # ------------------------------------------------------------ annotations

    def annotation(self, ty: Optional[model.ValType], depth: int = 0) -> str:
        """The Python type of ``ty``'s values in the bindings."""
        if ty is None:
            return "None"
        if depth > MAX_DEPTH:
            raise UnsupportedError(f"bindgen: types nested deeper than {MAX_DEPTH} levels")
        found = self._annotations.get(ty)
        if found is None:
            found = self._annotation(ty, depth + 1)
            if len(found) > MAX_ANNOTATION:
                found = "_typing.Any"
            self._annotations[ty] = found
        return found

    def _annotation(self, ty: model.ValType, depth: int) -> str:
        a = self.annotation
        if isinstance(ty, model.PrimType):
            if ty.name == "error-context":
                return "_typing.Any"
            return _PRIMS.get(ty.name, "int")
        named = self.named(ty)
        if named is not None:
            return self.ref(named.home, named.py_name)
        if isinstance(ty, model.ListType):
            return "bytes" if ty.element == model.U8 else f"list[{a(ty.element, depth)}]"
        if isinstance(ty, model.TupleType):
            inner = ", ".join(a(e, depth) for e in ty.elements) or "()"
            return f"tuple[{inner}]"
        if isinstance(ty, model.OptionType):
            inner = a(ty.payload, depth)
            if isinstance(ty.payload, model.OptionType):
                inner = f"_rt.Some[{inner}]"
            return f"{inner} | None"
        if isinstance(ty, model.ResultType):
            if self._untyped_result(ty):
                return "_typing.Any"
            return f"_rt.Result[{a(ty.ok, depth)}, {a(ty.err, depth)}]"
        if isinstance(ty, model.MapType):
            return f"dict[{a(ty.key, depth)}, {a(ty.value, depth)}]"
        if isinstance(ty, (model.StreamType, model.FutureType)):
            payload = ty.payload
            inner = a(payload, depth) if payload is not None and self.identity("py", payload) else "_typing.Any"
            kind = "StreamReader" if isinstance(ty, model.StreamType) else "FutureReader"
            return f"_wc.{kind}[{inner}]"
        return self.wrapped_resource(ty) or "_typing.Any"

    # ------------------------------------------------------------ conversions

    def py(self, ty: Optional[model.ValType], src: str, ctx: str) -> Optional[str]:
        """An expression converting the runtime value ``src`` into the bindings' value (None: as it is).

        ``ctx`` is an expression for the world object, which resource classes need.
        """
        if ty is None or self.identity("py", ty):
            return None
        enum = self._enum_table(ty, "py")
        if enum is not None:
            return f"{enum}[{src}]"
        cls = self.wrapped_resource(ty)
        if cls is not None:
            return f"{cls}._wrap({ctx}, {src})"
        name = self._helper("py", ty)
        return f"{name}({src}, {ctx})" if self.needs_ctx(ty) else f"{name}({src})"

    def wit(self, ty: Optional[model.ValType], src: str) -> Optional[str]:
        """An expression converting the bindings' value ``src`` into a runtime value (None: as it is)."""
        if ty is None or self.identity("wit", ty):
            return None
        enum = self._enum_table(ty, "wit")
        if enum is not None:
            return f"{enum}[{src}]"
        if self.wrapped_resource(ty) is not None:
            return f"{src}._handle"
        return f"{self._helper('wit', ty)}({src})"

    def unwrap(self, ty: model.ResultType, src: str, ctx: str) -> str:
        """An expression giving the ``ok`` value of the runtime result ``src``, or raising ``Err``."""
        key = ("unwrap", ty)
        name = self._helper_names.get(key)
        if name is None:
            name = self._helper_names[key] = f"_unwrap_{len(self._helper_names)}"
            sig = "v: _typing.Any, w: _typing.Any" if self.needs_ctx(ty) else "v: _typing.Any"
            body = self._py_cases(ty, [lambda x: f"return {x}" if x else "return", lambda x: f"raise _rt.Err({x or 'None'})"])
            self.helpers.append(f"def {name}({sig}) -> {self.annotation(ty.ok)}:\n"
                                + "".join(f"    {line}\n" for line in body))
        return f"{name}({src}, {ctx})" if self.needs_ctx(ty) else f"{name}({src})"

    def is_typed_result(self, ty: Optional[model.ValType]) -> bool:
        """Whether ``ty`` is a ``result`` returned as its ``ok`` value, ``Err`` raised (componentize-py)."""
        return isinstance(ty, model.ResultType) and not self._untyped_result(ty)

    def py_or(self, ty: Optional[model.ValType], src: str, ctx: str) -> str:
        return self.py(ty, src, ctx) or src

    def wit_or(self, ty: Optional[model.ValType], src: str) -> str:
        return self.wit(ty, src) or src

    def _enum_table(self, ty: model.ValType, direction: str) -> Optional[str]:
        named = self.named(ty)
        if named is None or not isinstance(ty, model.EnumType):
            return None
        return self.ref(named.home, f"_{'from' if direction == 'py' else 'to'}_wit_{named.py_name}")

    def identity(self, direction: str, ty: model.ValType, depth: int = 0) -> bool:
        """Whether values of ``ty`` need no conversion in ``direction`` (``py`` or ``wit``)."""
        if depth > MAX_DEPTH:
            raise UnsupportedError(f"bindgen: types nested deeper than {MAX_DEPTH} levels")
        key = (direction, ty)
        found = self._identity.get(key)
        if found is None:
            found = self._identity[key] = self._is_identity(direction, ty, depth + 1)
        return found

    def _is_identity(self, direction: str, ty: model.ValType, depth: int) -> bool:
        same = self.identity
        named = self.named(ty)
        if named is not None:
            if direction == "py" or not isinstance(ty, model.RecordType):
                return False
            # A dataclass is read by attribute: as it is, when its fields need nothing.
            return all(
                py == wit and same(direction, t, depth)
                for py, (wit, t) in zip(named.members, ty.fields, strict=True)
            )
        if isinstance(ty, model.ListType):
            return same(direction, ty.element, depth)
        if isinstance(ty, model.TupleType):
            return all(same(direction, e, depth) for e in ty.elements)
        if isinstance(ty, model.OptionType):
            return not is_tagged(ty) and same(direction, ty.payload, depth) and not (
                direction == "wit" and self._is_named_record(ty.payload))
        if isinstance(ty, model.ResultType):
            return self._untyped_result(ty)
        if isinstance(ty, model.MapType):
            return same(direction, ty.key, depth) and same(direction, ty.value, depth)
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            return self.wrapped_resource(ty) is None
        return True  # scalars, unnamed nominal types, streams, futures, error contexts

    def _is_named_record(self, ty: model.ValType) -> bool:
        return isinstance(ty, model.RecordType) and self.named(ty) is not None

    def wit_payload(self, ty: model.ValType, src: str) -> str:
        """Like :meth:`wit_or`, for a variant case's payload: the runtime picks the case by the
        payload's class, so a record must be a ``Record`` there, not the dataclass."""
        if self._is_named_record(ty) and self.identity("wit", ty):
            # The dataclass's own fields are the record's: a Record sharing them (lowering only reads).
            return f"_rt.record({src}.__dict__)"
        return self.wit_or(ty, src)

    def needs_ctx(self, ty: model.ValType) -> bool:
        """Whether converting ``ty`` into the bindings' value needs the world (it holds resources)."""
        # Cached for the whole world: a type defined elsewhere is asked of its own module.
        key = (id(self.scope), ty)
        found = self.world.ctx_cache.get(key)
        if found is None:
            found = self.world.ctx_cache[key] = self._contains_resource(ty)
        return found

    def _contains_resource(self, ty: model.ValType) -> bool:
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            return self.wrapped_resource(ty) is not None
        named = self.named(ty)
        if named is not None and named.home is not self.scope:
            # Defined elsewhere: that module's helper decides, with its own scope.
            return Converter(self.world, named.home).needs_ctx(ty)
        return any(self.needs_ctx(c) for c in _children(ty))

    def _untyped_result(self, ty: model.ResultType) -> bool:
        """A result whose runtime cases cannot be told apart without a tag (an error-context case)."""
        return not is_tagged(ty) and any(c is not None and object in python_classes(c) for _, c in ty.cases())

    # ------------------------------------------------------------ helpers

    def _helper(self, direction: str, ty: model.ValType) -> str:
        named = self.named(ty)
        if named is not None:
            if named.home is not self.scope:
                return Converter(self.world, named.home)._helper_ref(direction, named, self)
            return f"_{'from' if direction == 'py' else 'to'}_wit_{named.py_name}"
        key = (direction, ty)
        name = self._helper_names.get(key)
        if name is None:
            name = self._helper_names[key] = f"_{'from' if direction == 'py' else 'to'}_wit_{len(self._helper_names)}"
            self.helpers.append(self._helper_source(direction, ty, name))
        return name

    def _helper_ref(self, direction: str, named: NamedType, user: Converter) -> str:
        return user.ref(named.home, f"_{'from' if direction == 'py' else 'to'}_wit_{named.py_name}")

    def _helper_source(self, direction: str, ty: model.ValType, name: str) -> str:
        ctx = self.needs_ctx(ty) if direction == "py" else False
        sig = "v: _typing.Any, w: _typing.Any" if ctx else "v: _typing.Any"
        result = self.annotation(ty) if direction == "py" else "_typing.Any"
        body = self.py_body(ty) if direction == "py" else self.wit_body(ty)
        return f"def {name}({sig}) -> {result}:\n" + "".join(f"    {line}\n" for line in body)

    def named_helpers(self, named: NamedType) -> str:
        """The conversion functions (or enum tables) of a type defined in this module."""
        ty = named.ty
        if isinstance(ty, model.EnumType):
            pairs_py = ", ".join(f"{wit!r}: {named.py_name}.{m}" for wit, m in zip(ty.names, named.members, strict=True))
            pairs_wit = ", ".join(f"{named.py_name}.{m}: {wit!r}" for wit, m in zip(ty.names, named.members, strict=True))
            return (
                f"_from_wit_{named.py_name}: dict[str, {named.py_name}] = {{{pairs_py}}}\n"
                f"_to_wit_{named.py_name}: dict[{named.py_name}, str] = {{{pairs_wit}}}\n"
            )
        if isinstance(ty, model.FlagsType):
            bits = ", ".join(f"{wit!r}: {1 << i}" for i, wit in enumerate(ty.names))
            names = _tuple(f"({1 << i}, {wit!r})" for i, wit in enumerate(ty.names))
            n = named.py_name
            tables = (f"_bits_{n}: dict[str, int] = {{{bits}}}\n"
                      f"_names_{n}: tuple[tuple[int, str], ...] = {names}\n"
                      "# Converted values, kept (up to _rt.CACHE_LIMIT): building a Flag is slow.\n"
                      f"_flags_{n}: dict[int, {n}] = {{}}\n"
                      f"_sets_{n}: dict[{n}, frozenset[str]] = {{}}\n\n\n")
            return tables + self._helper_source("py", ty, f"_from_wit_{named.py_name}") + "\n\n" + \
                self._helper_source("wit", ty, f"_to_wit_{named.py_name}")
        return (self._helper_source("py", ty, f"_from_wit_{named.py_name}")
                + "\n\n" + self._helper_source("wit", ty, f"_to_wit_{named.py_name}"))

    # The bodies assume the value is in ``v`` and the world, if needed, in ``w``.

    def py_body(self, ty: model.ValType) -> list[str]:
        named = self.named(ty)
        c = self.py_or
        if isinstance(ty, model.RecordType) and named is not None:
            args = ", ".join(c(t, f"d[{wit!r}]", "w") for wit, t in ty.fields)
            return ["d = v.__dict__", f"return {named.py_name}({args})"]
        if isinstance(ty, model.FlagsType) and named is not None:
            return [
                "bits = 0",
                "for n in v:",
                f"    bits |= _bits_{named.py_name}[n]",
                f"m = _flags_{named.py_name}.get(bits)",
                "if m is None:",
                f"    m = {named.py_name}(bits)",
                f"    if len(_flags_{named.py_name}) < _rt.CACHE_LIMIT:",
                f"        _flags_{named.py_name}[bits] = m",
                "return m",
            ]
        if isinstance(ty, model.VariantType) and named is not None:
            return [f"return {self.variant_py(ty, named, 'v')}"]
        if isinstance(ty, model.ListType):
            inline = self._inline_variant(ty.element)
            if inline is not None:  # one call less per element
                return [f"return [{self.variant_py(ty.element, inline, 'e')} for e in v]"]  # type: ignore[arg-type]
            return [f"return [{c(ty.element, 'e', 'w')} for e in v]"]
        if isinstance(ty, model.TupleType):
            return [f"return {_tuple(c(e, f'v[{i}]', 'w') for i, e in enumerate(ty.elements))}"]
        if isinstance(ty, model.MapType):
            return [f"return {{{c(ty.key, 'k', 'w')}: {c(ty.value, 'x', 'w')} for k, x in v.items()}}"]
        if isinstance(ty, model.OptionType):
            some = (lambda x: f"_rt.Some({x})") if isinstance(ty.payload, model.OptionType) else (lambda x: x)
            if is_tagged(ty):
                return ["if v.tag == 'none':", "    return None", f"return {some(c(ty.payload, 'v.payload', 'w'))}"]
            return ["if v is None:", "    return None", f"return {some(c(ty.payload, 'v', 'w'))}"]
        if isinstance(ty, model.ResultType):
            return self._py_cases(ty, [lambda x: f"return _rt.Ok({x or 'None'})", lambda x: f"return _rt.Err({x or 'None'})"])
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            cls = self.wrapped_resource(ty)
            return [f"return {cls}._wrap(w, v)"]
        return ["return v"]

    def _inline_variant(self, ty: model.ValType) -> Optional[NamedType]:
        """The named variant ``ty`` is, when its conversion can be written inline (its module's names)."""
        named = self.named(ty)
        if isinstance(ty, model.VariantType) and named is not None and not self.needs_ctx(ty):
            return named
        return None

    def variant_py(self, ty: model.VariantType, named: NamedType, var: str) -> str:
        """One expression making the case class instance of the lifted value ``var`` (a simple name)."""
        classes = [self.ref(named.home, m) for m in named.members]
        cases = ty.variant_cases
        if is_tagged(ty):
            parts = []
            for i, (wit, payload) in enumerate(cases):
                value = self.py(payload, f"{var}.payload", "w") or (f"{var}.payload" if payload is not None else "")
                parts.append((f"{var}.tag == {wit!r}", f"{classes[i]}({value})"))
        else:
            order = sorted(range(len(cases)), key=lambda i: self._case_rank(cases[i][1]))
            parts = []
            for i in order:
                payload = cases[i][1]
                value = self.py(payload, var, "w") or (var if payload is not None else "")
                parts.append((self._case_test(payload, var), f"{classes[i]}({value})"))
        text = parts[-1][1]
        for test, made in reversed(parts[:-1]):
            text = f"{made} if {test} else {text}"
        return text

    def variant_wit(self, ty: model.VariantType, named: NamedType, var: str) -> str:
        """One expression giving the runtime value of the case class instance ``var`` (a simple name)."""
        tagged = is_tagged(ty)
        text = f"_rt.raise_not_a_case({named.py_name!r}, {var})"
        # The exact classes: a lifted value's case is its class (subclasses are refused).
        for (wit, payload), member in reversed(list(zip(ty.variant_cases, named.members, strict=True))):
            value = self.wit_payload(payload, f"{var}.value") if payload is not None else "None"
            made = f"_wc.Variant({wit!r}, {value})" if tagged else value
            text = f"{made} if {var}.__class__ is {self.ref(named.home, member)} else {text}"
        return text

    def _py_cases(self, ty: model.VariantLike, make: list) -> list[str]:
        """Which case a lifted variant-like value is, each made by ``make[i](payload_expr)``."""
        cases = ty.cases()
        lines: list[str] = []
        if is_tagged(ty):  # type: ignore[arg-type]
            lines.append("t = v.tag")
            for i, (wit, payload) in enumerate(cases):
                value = self.py(payload, "v.payload", "w") or ("v.payload" if payload is not None else "")
                test = "" if i == len(cases) - 1 else f"if t == {wit!r}:"
                lines += [test, f"    {make[i](value)}"] if test else [make[i](value)]
            return lines
        # Untagged: the cases' Python classes are disjoint; at most one case (no payload, or a
        # payload that may be anything) is told by elimination, so it comes last.
        order = sorted(range(len(cases)), key=lambda i: self._case_rank(cases[i][1]))
        for n, i in enumerate(order):
            payload = cases[i][1]
            value = self.py(payload, "v", "w") or ("v" if payload is not None else "")
            if n == len(order) - 1:
                lines.append(make[i](value))
            else:
                lines += [f"if {self._case_test(payload)}:", f"    {make[i](value)}"]
        return lines

    @staticmethod
    def _case_rank(payload: Optional[model.ValType]) -> int:
        if payload is None or object in python_classes(payload):
            return 2
        # ``bool`` is an ``int``: its case is tested first.
        return 0 if bool in python_classes(payload) else 1

    @staticmethod
    def _case_test(payload: Optional[model.ValType], var: str = "v") -> str:
        if payload is None:
            return f"{var} is None"
        classes = python_classes(payload)
        names = sorted(n for n in (_class_expr(c) for c in classes) if n is not None)
        if any(c.__name__.startswith("Resource") for c in classes):
            return f"isinstance({var}, ({', '.join(names)},))"
        # The runtime lifts to these exact classes.
        return f"{var}.__class__ is {names[0]}" if len(names) == 1 else f"{var}.__class__ in ({', '.join(names)})"

    def wit_body(self, ty: model.ValType) -> list[str]:
        named = self.named(ty)
        c = self.wit_or
        if isinstance(ty, model.RecordType) and named is not None:
            pairs = [(wit, c(t, f"v.{py}")) for py, (wit, t) in zip(named.members, ty.fields, strict=True)]
            return [f"return _rt.record({{{', '.join(f'{wit!r}: {value}' for wit, value in pairs)}}})"]
        if isinstance(ty, model.FlagsType) and named is not None:
            return [
                f"s = _sets_{named.py_name}.get(v)",
                "if s is None:",
                "    bits = v._value_",
                f"    s = frozenset([n for b, n in _names_{named.py_name} if bits & b])",
                f"    if len(_sets_{named.py_name}) < _rt.CACHE_LIMIT and v.__class__ is {named.py_name}:",
                f"        _sets_{named.py_name}[v] = s",
                "return s",
            ]
        if isinstance(ty, model.VariantType) and named is not None:
            return [f"return {self.variant_wit(ty, named, 'v')}"]
        if isinstance(ty, model.ListType):
            inline = self._inline_variant(ty.element)
            if inline is not None:  # one call less per element
                return [f"return [{self.variant_wit(ty.element, inline, 'e')} for e in v]"]  # type: ignore[arg-type]
            return [f"return [{c(ty.element, 'e')} for e in v]"]
        if isinstance(ty, model.TupleType):
            return [f"return {_tuple(c(e, f'v[{i}]') for i, e in enumerate(ty.elements))}"]
        if isinstance(ty, model.MapType):
            return [f"return {{{c(ty.key, 'k')}: {c(ty.value, 'x')} for k, x in v.items()}}"]
        if isinstance(ty, model.OptionType):
            tagged = is_tagged(ty)
            inner = "v.value" if isinstance(ty.payload, model.OptionType) else "v"
            value = self.wit_payload(ty.payload, inner)
            return [
                "if v is None:",
                "    return _wc.Variant('none')" if tagged else "    return None",
                f"return _wc.Variant('some', {value})" if tagged else f"return {value}",
            ]
        if isinstance(ty, model.ResultType):
            tagged = is_tagged(ty)
            lines = []
            for cls, (wit, payload) in zip(("_rt.Ok", "_rt.Err"), ty.cases(), strict=True):
                value = self.wit_payload(payload, "v.value") if payload is not None else "None"
                lines += [f"if c is {cls}:",
                          f"    return _wc.Variant({wit!r}, {value})" if tagged else f"    return {value}"]
            return ["c = v.__class__", *lines, "raise _rt.not_a_case('Result', v)"]
        if isinstance(ty, (model.OwnType, model.BorrowType)):
            return ["return v._handle"]
        return ["return v"]


def _tuple(items: Iterable[str]) -> str:
    parts = list(items)
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"  # () when empty


def _children(ty: model.ValType) -> list[model.ValType]:
    if isinstance(ty, model.ListType):
        return [ty.element]
    if isinstance(ty, model.TupleType):
        return list(ty.elements)
    if isinstance(ty, model.RecordType):
        return [t for _, t in ty.fields]
    if isinstance(ty, (model.VariantType, model.OptionType, model.ResultType)):
        return [t for _, t in ty.cases() if t is not None]
    if isinstance(ty, model.MapType):
        return [ty.key, ty.value]
    return []
