"""Inline-WAT component builders shared by the drop-in tests and the benchmarks.

A tiny structural type model (`Prim`, `ListT`, `RecordT`, ...) describes
component value types.  From it this module derives, following the Canonical
ABI (component-model `design/mvp/CanonicalABI.md`):

* the component-level type text (`TypeTable.ref`), with records, variants,
  enums and flags defined once and exported under a plain name so that they
  may appear in exported function signatures;
* `flatten` (core value types), `alignment` and `elem_size`;
* WAT that stores flat core values into linear memory with the layout of a
  type (`store_flat`), which is what an identity function needs when its
  result has more than one flat value and must be returned through a pointer.

`identity_component` builds a component whose exports are identity functions
implemented purely in the guest; `host_roundtrip_component` builds one whose
exports forward every call to a Python host import of the same type.  Every
component uses one core module with a memory, a bump allocator exported as
`cabi_realloc` (growing memory on demand) and a `reset` function that is used
as post-return, so the heap is empty again after each export call.

Everything here is plain text generation: it imports neither `wasmtime` nor
`wasmcomponent`, so the same WAT feeds both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

# --------------------------------------------------------------------------
# Type model


@dataclass(frozen=True)
class Prim:
    """A primitive value type: bool, s8..u64, f32, f64, char or string."""

    name: str


@dataclass(frozen=True)
class ListT:
    """`list<elem>`."""

    elem: Ty


@dataclass(frozen=True)
class RecordT:
    """`record { fields }` (field names are kebab-case)."""

    fields: tuple[tuple[str, Ty], ...]


@dataclass(frozen=True)
class TupleT:
    """`tuple<elems>`."""

    elems: tuple[Ty, ...]


@dataclass(frozen=True)
class VariantT:
    """`variant { cases }`; a case payload of None means no payload."""

    cases: tuple[tuple[str, Ty | None], ...]


@dataclass(frozen=True)
class EnumT:
    """`enum { names }`."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class OptionT:
    """`option<inner>`."""

    inner: Ty


@dataclass(frozen=True)
class ResultT:
    """`result<ok, err>`; either side may be absent."""

    ok: Ty | None = None
    err: Ty | None = None


@dataclass(frozen=True)
class FlagsT:
    """`flags { names }` (at most 32 names since the spec limits them)."""

    names: tuple[str, ...]


Ty = Union[Prim, ListT, RecordT, TupleT, VariantT, EnumT, OptionT, ResultT, FlagsT]

BOOL, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, CHAR, STRING = (
    Prim(n)
    for n in ("bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64",
              "f32", "f64", "char", "string")
)
PRIMITIVES: tuple[Prim, ...] = (BOOL, S8, U8, S16, U16, S32, U32, S64, U64, F32, F64, CHAR, STRING)


def record(**fields: Ty) -> RecordT:
    """Record with Python-identifier field names; `_` becomes `-` (kebab-case)."""
    return RecordT(tuple((name.replace("_", "-"), ty) for name, ty in fields.items()))


def variant(*cases: tuple[str, Ty | None]) -> VariantT:
    """Variant from `(name, payload-or-None)` pairs."""
    return VariantT(tuple(cases))


# --------------------------------------------------------------------------
# Canonical ABI: flattening and layout


def cases_of(ty: Union[VariantT, OptionT, ResultT]) -> tuple[tuple[str, Ty | None], ...]:
    """The variant cases that option/result/variant despecialize to."""
    if isinstance(ty, OptionT):
        return (("none", None), ("some", ty.inner))
    if isinstance(ty, ResultT):
        return (("ok", ty.ok), ("err", ty.err))
    return ty.cases


def discriminant_size(n: int) -> int:
    """Bytes of a variant/enum discriminant with `n` cases."""
    if n <= 0x100:
        return 1
    if n <= 0x10000:
        return 2
    return 4


def flags_size(n: int) -> int:
    """Bytes of a flags value with `n` labels."""
    if n <= 8:
        return 1
    if n <= 16:
        return 2
    return 4


_PRIM_LAYOUT: dict[str, tuple[int, str]] = {
    "bool": (1, "i32"), "s8": (1, "i32"), "u8": (1, "i32"), "s16": (2, "i32"),
    "u16": (2, "i32"), "s32": (4, "i32"), "u32": (4, "i32"), "char": (4, "i32"),
    "s64": (8, "i64"), "u64": (8, "i64"), "f32": (4, "f32"), "f64": (8, "f64"),
}


def align_to(offset: int, align: int) -> int:
    """Round `offset` up to a multiple of `align`."""
    return (offset + align - 1) // align * align


def alignment(ty: Ty) -> int:
    """Canonical ABI alignment of `ty` in bytes."""
    if isinstance(ty, Prim):
        return 4 if ty.name == "string" else _PRIM_LAYOUT[ty.name][0]
    if isinstance(ty, ListT):
        return 4
    if isinstance(ty, RecordT):
        return max(alignment(t) for _, t in ty.fields)
    if isinstance(ty, TupleT):
        return max(alignment(t) for t in ty.elems)
    if isinstance(ty, EnumT):
        return discriminant_size(len(ty.names))
    if isinstance(ty, FlagsT):
        return flags_size(len(ty.names))
    cases = cases_of(ty)
    return max([discriminant_size(len(cases))] + [alignment(t) for _, t in cases if t is not None])


def elem_size(ty: Ty) -> int:
    """Canonical ABI size of `ty` in bytes."""
    if isinstance(ty, Prim):
        return 8 if ty.name == "string" else _PRIM_LAYOUT[ty.name][0]
    if isinstance(ty, ListT):
        return 8
    if isinstance(ty, (RecordT, TupleT)):
        size = 0
        for t in field_types(ty):
            size = align_to(size, alignment(t)) + elem_size(t)
        return align_to(size, alignment(ty))
    if isinstance(ty, EnumT):
        return discriminant_size(len(ty.names))
    if isinstance(ty, FlagsT):
        return flags_size(len(ty.names))
    cases = cases_of(ty)
    size = align_to(discriminant_size(len(cases)), max_case_alignment(cases))
    size += max([elem_size(t) for _, t in cases if t is not None], default=0)
    return align_to(size, alignment(ty))


def max_case_alignment(cases: Sequence[tuple[str, Ty | None]]) -> int:
    """Largest payload alignment of a variant's cases (1 if none has a payload)."""
    return max([alignment(t) for _, t in cases if t is not None], default=1)


def field_types(ty: Union[RecordT, TupleT]) -> tuple[Ty, ...]:
    """Member types of a record or tuple, in order."""
    if isinstance(ty, RecordT):
        return tuple(t for _, t in ty.fields)
    return ty.elems


def join(a: str, b: str) -> str:
    """Join two core types of variant payload slots."""
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


def flatten(ty: Ty) -> list[str]:
    """Core value types of `ty` when passed as flat parameters."""
    if isinstance(ty, Prim):
        return ["i32", "i32"] if ty.name == "string" else [_PRIM_LAYOUT[ty.name][1]]
    if isinstance(ty, ListT):
        return ["i32", "i32"]
    if isinstance(ty, (RecordT, TupleT)):
        return [c for t in field_types(ty) for c in flatten(t)]
    if isinstance(ty, (EnumT, FlagsT)):
        return ["i32"]
    joined: list[str] = []
    for _, t in cases_of(ty):
        if t is None:
            continue
        for i, core in enumerate(flatten(t)):
            if i < len(joined):
                joined[i] = join(joined[i], core)
            else:
                joined.append(core)
    return ["i32"] + joined


def flatten_all(types: Sequence[Ty]) -> list[str]:
    """Flat core types of a parameter list."""
    return [c for t in types for c in flatten(t)]


MAX_FLAT_PARAMS = 16
MAX_FLAT_RESULTS = 1


# --------------------------------------------------------------------------
# WAT generation: storing flat values with a type's memory layout


class Labels:
    """Fresh WAT label names for nested blocks."""

    def __init__(self) -> None:
        self.count = 0

    def fresh(self, stem: str) -> str:
        """A new unique label."""
        self.count += 1
        return f"${stem}{self.count}"


def coerce(expr: str, have: str, want: str) -> str:
    """Convert a joined variant slot of core type `have` to the case's type `want`."""
    if have == want:
        return expr
    if (have, want) == ("i32", "f32"):
        return f"(f32.reinterpret_i32 {expr})"
    if (have, want) == ("i64", "i32"):
        return f"(i32.wrap_i64 {expr})"
    if (have, want) == ("i64", "f32"):
        return f"(f32.reinterpret_i32 (i32.wrap_i64 {expr}))"
    if (have, want) == ("i64", "f64"):
        return f"(f64.reinterpret_i64 {expr})"
    raise AssertionError(f"cannot coerce {have} to {want}")


def store_int(size: int, base: str, offset: int, expr: str) -> str:
    """Store an i32 expression as a `size`-byte integer."""
    op = {1: "i32.store8", 2: "i32.store16", 4: "i32.store"}[size]
    return f"({op} offset={offset} {base} {expr})"


def store_flat(ty: Ty, vals: Sequence[str], base: str, offset: int, labels: Labels) -> list[str]:
    """WAT instructions storing the flat values `vals` of `ty` at `base + offset`.

    `vals` are side-effect-free WAT expressions of the types `flatten(ty)`.
    """
    assert len(vals) == len(flatten(ty))
    if isinstance(ty, Prim):
        if ty.name == "string":
            return [store_int(4, base, offset, vals[0]), store_int(4, base, offset + 4, vals[1])]
        size, core = _PRIM_LAYOUT[ty.name]
        if ty.name == "bool":
            return [store_int(1, base, offset, f"(i32.ne {vals[0]} (i32.const 0))")]
        if core == "i32":
            return [store_int(size, base, offset, vals[0])]
        return [f"({core}.store offset={offset} {base} {vals[0]})"]
    if isinstance(ty, ListT):
        return [store_int(4, base, offset, vals[0]), store_int(4, base, offset + 4, vals[1])]
    if isinstance(ty, (RecordT, TupleT)):
        out: list[str] = []
        pos, used = offset, 0
        for t in field_types(ty):
            pos = align_to(pos, alignment(t))
            n = len(flatten(t))
            out += store_flat(t, vals[used:used + n], base, pos, labels)
            pos += elem_size(t)
            used += n
        return out
    if isinstance(ty, EnumT):
        return [store_int(discriminant_size(len(ty.names)), base, offset, vals[0])]
    if isinstance(ty, FlagsT):
        return [store_int(flags_size(len(ty.names)), base, offset, vals[0])]
    return store_variant(ty, vals, base, offset, labels)


def store_variant(ty: Union[VariantT, OptionT, ResultT], vals: Sequence[str], base: str,
                  offset: int, labels: Labels) -> list[str]:
    """Store a variant: discriminant, then a `br_table` dispatch per case payload."""
    cases = cases_of(ty)
    disc_size = discriminant_size(len(cases))
    payload_offset = offset + align_to(disc_size, max_case_alignment(cases))
    joined = flatten(ty)[1:]
    out = [store_int(disc_size, base, offset, vals[0])]
    done = labels.fresh("done")
    case_labels = [labels.fresh("case") for _ in cases]
    # Innermost block holds the br_table; case i's code follows block i.
    text = f"(br_table {' '.join(case_labels)} {case_labels[-1]} {vals[0]})"
    for label, (_, payload) in zip(case_labels, cases, strict=True):
        body = ""
        if payload is not None:
            wants = flatten(payload)
            coerced = [coerce(v, h, w) for v, h, w in zip(vals[1:], joined, wants, strict=False)]
            body = " ".join(store_flat(payload, coerced, base, payload_offset, labels))
        text = f"(block {label} {text}) {body} (br {done})"
    out.append(f"(block {done} {text})")
    return out


# --------------------------------------------------------------------------
# Component-level type text


class TypeTable:
    """Emits component type definitions; named kinds are exported once each.

    Records, variants, enums and flags used in an exported function must be
    exported (or imported) types, and those used in an imported function must
    be imported types: each is defined as `$tN'` and then exported as `tN`,
    or, when `imported`, imported as `tN` with an `eq` bound.
    """

    def __init__(self, imported: bool = False) -> None:
        self.lines: list[str] = []
        self.named: dict[Ty, str] = {}
        self.imported = imported

    def ref(self, ty: Ty) -> str:
        """Type text usable in a function signature (defining what is needed)."""
        if isinstance(ty, Prim):
            return ty.name
        if isinstance(ty, ListT):
            return f"(list {self.ref(ty.elem)})"
        if isinstance(ty, TupleT):
            return f"(tuple {' '.join(self.ref(t) for t in ty.elems)})"
        if isinstance(ty, OptionT):
            return f"(option {self.ref(ty.inner)})"
        if isinstance(ty, ResultT):
            ok = f" {self.ref(ty.ok)}" if ty.ok is not None else ""
            err = f" (error {self.ref(ty.err)})" if ty.err is not None else ""
            return f"(result{ok}{err})"
        if ty in self.named:
            return self.named[ty]
        body = self.define(ty)
        name = f"t{len(self.named)}"
        self.lines.append(f"(type ${name}' {body})")
        if self.imported:
            self.lines.append(f'(import "{name}" (type ${name} (eq ${name}\')))')
        else:
            self.lines.append(f'(export ${name} "{name}" (type ${name}\'))')
        self.named[ty] = f"${name}"
        return f"${name}"

    def define(self, ty: Union[RecordT, VariantT, EnumT, FlagsT]) -> str:
        """Definition text of a named kind."""
        if isinstance(ty, RecordT):
            return "(record " + " ".join(f'(field "{n}" {self.ref(t)})' for n, t in ty.fields) + ")"
        if isinstance(ty, VariantT):
            parts = [f'(case "{n}" {self.ref(t)})' if t is not None else f'(case "{n}")'
                     for n, t in ty.cases]
            return "(variant " + " ".join(parts) + ")"
        if isinstance(ty, EnumT):
            return "(enum " + " ".join(f'"{n}"' for n in ty.names) + ")"
        if isinstance(ty, FlagsT):
            return "(flags " + " ".join(f'"{n}"' for n in ty.names) + ")"
        raise AssertionError(f"not a named kind: {ty!r}")


# --------------------------------------------------------------------------
# Core module pieces

PAGE = 65536


def libc_functions(heap_base: int) -> str:
    """Bump allocator (`cabi_realloc`, growing memory) and `reset` (heap := base)."""
    return f"""
    (global $heap (mut i32) (i32.const {heap_base}))
    (func $realloc (export "cabi_realloc")
        (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32)
        (result i32)
      (local $ret i32) (local $end i32) (local $have i32)
      (local.set $ret (i32.and
          (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $ret) (local.get $new_size)))
      (local.set $have (i32.mul (memory.size) (i32.const {PAGE})))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq (i32.const -1) (memory.grow (i32.shr_u
                  (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const {PAGE - 1}))
                  (i32.const 16))))
            (then unreachable))))
      (if (local.get $old_size)
        (then (memory.copy (local.get $ret) (local.get $old)
          (select (local.get $old_size) (local.get $new_size)
            (i32.lt_u (local.get $old_size) (local.get $new_size))))))
      (global.set $heap (local.get $end))
      (local.get $ret))
    (func $reset (export "reset") (global.set $heap (i32.const {heap_base})))
    """


def wat_string(data: bytes) -> str:
    """WAT string literal with every byte escaped."""
    return '"' + "".join(f"\\{b:02x}" for b in data) + '"'


@dataclass(frozen=True)
class Export:
    """One exported component function backed by the core function of the same name.

    `core` is the core function text; `params`/`result` the component types.
    `memory_opts` says whether the lift needs `memory`/`realloc` options.
    """

    name: str
    params: tuple[tuple[str, Ty], ...]
    result: Ty | None
    core: str


@dataclass(frozen=True)
class Import:
    """One imported component function, lowered into the core module as `host.<name>`."""

    name: str
    params: tuple[tuple[str, Ty], ...]
    result: Ty | None


def core_signature(params: Sequence[Ty], result: Ty | None, lowered: bool) -> tuple[list[str], list[str]]:
    """Core (params, results) of a lifted (`lowered=False`) or lowered function."""
    flat_params = flatten_all(params)
    if len(flat_params) > MAX_FLAT_PARAMS:
        flat_params = ["i32"]
    flat_results = flatten(result) if result is not None else []
    if len(flat_results) > MAX_FLAT_RESULTS:
        if lowered:
            return flat_params + ["i32"], []
        flat_results = ["i32"]
    return flat_params, flat_results


def sig_text(params: Sequence[str], results: Sequence[str]) -> str:
    """`(param ...) (result ...)` text."""
    p = f"(param {' '.join(params)})" if params else ""
    r = f" (result {' '.join(results)})" if results else ""
    return p + r


@dataclass(frozen=True)
class Built:
    """A generated component: its WAT plus the standalone core module WAT.

    `core_wat` is the same core module as a top-level module; host imports
    (if any) are imported from module `host` under their component names.
    """

    wat: str
    core_wat: str
    exports: tuple[Export, ...]
    imports: tuple[Import, ...]


def build_component(exports: Sequence[Export], imports: Sequence[Import] = (),
                    data: bytes = b"", data_base: int = 16, post_return: bool = True,
                    string_encoding: str = "utf8") -> Built:
    """Assemble a component from core function texts and their component types.

    The memory and allocator live in a small `libc` core instance (lowered
    imports need them before the main module is instantiated); the main
    module imports them.  `data` is placed at `data_base` and the heap
    starts after it.
    """
    heap_base = align_to(data_base + len(data) + 16, 16)
    pages = max(1, (heap_base + PAGE - 1) // PAGE)
    table = TypeTable(imported=bool(imports))
    import_lines: list[str] = []
    core_imports: list[str] = []
    lower_lines: list[str] = []
    for imp in imports:
        ftype = func_type_text(table, imp.params, imp.result)
        import_lines.append(f'(import "{imp.name}" (func ${imp.name} {ftype}))')
        cp, cr = core_signature([t for _, t in imp.params], imp.result, lowered=True)
        core_imports.append(f'(import "host" "{imp.name}" (func ${imp.name} {sig_text(cp, cr)}))')
        lower_lines.append(
            f'(core func $lowered-{imp.name} (canon lower (func ${imp.name}) '
            f'(memory $mem) (realloc $realloc) string-encoding={string_encoding}))')
    functions = "\n".join(e.core for e in exports)
    if post_return:
        for exp in exports:
            _, cr = core_signature([t for _, t in exp.params], exp.result, lowered=False)
            functions += f'\n(func (export "post-{exp.name}") {sig_text(cr, [])} (call $reset))'
    data_line = f"(data (i32.const {data_base}) {wat_string(data)})" if data else ""
    alloc = """
    (func $alloc (param $align i32) (param $size i32) (result i32)
      (call $realloc (i32.const 0) (i32.const 0) (local.get $align) (local.get $size)))"""
    main_body = "\n".join(core_imports) + """
    (import "libc" "memory" (memory 1))
    (import "libc" "cabi_realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
    (import "libc" "reset" (func $reset))
    """ + alloc + "\n" + functions
    standalone_body = "\n".join(core_imports) + f"""
    (memory (export "memory") {pages})
    {data_line}
    {libc_functions(heap_base)}
    """ + alloc + "\n" + functions
    libc = f"""(core module $libc
    (memory (export "memory") {pages})
    {data_line}
    {libc_functions(heap_base)})"""
    lifts: list[str] = []
    for exp in exports:
        ftype = func_type_text(table, exp.params, exp.result)
        post = f' (post-return (core func $core "post-{exp.name}"))' if post_return else ""
        lifts.append(
            f'(func (export "{exp.name}") {ftype} (canon lift (core func $core "{exp.name}") '
            f'(memory $mem) (realloc $realloc) string-encoding={string_encoding}{post}))')
    host_exports = " ".join(f'(export "{i.name}" (func $lowered-{i.name}))' for i in imports)
    wat = "(component\n" + "\n".join(table.lines + import_lines) + f"""
  {libc}
  (core instance $libc (instantiate $libc))
  (alias core export $libc "memory" (core memory $mem))
  (alias core export $libc "cabi_realloc" (core func $realloc))
  """ + "\n".join(lower_lines) + f"""
  (core instance $host-instance {host_exports})
  (core module $m {main_body})
  (core instance $core (instantiate $m (with "host" (instance $host-instance))
                                       (with "libc" (instance $libc))))
""" + "\n".join(lifts) + "\n)"
    return Built(wat, f"(module {standalone_body})", tuple(exports), tuple(imports))


def func_type_text(table: TypeTable, params: Sequence[tuple[str, Ty]], result: Ty | None) -> str:
    """`(param "a" T) ... (result R)` text, defining named types as needed."""
    ps = " ".join(f'(param "{n}" {table.ref(t)})' for n, t in params)
    r = f" (result {table.ref(result)})" if result is not None else ""
    return ps + r


# --------------------------------------------------------------------------
# Export shapes


def identity_export(name: str, params: Sequence[tuple[str, Ty]]) -> Export:
    """Export returning its parameters (one param: itself; several: a tuple).

    Flat results that do not fit in one core value are stored from the flat
    parameters into a freshly allocated area whose address is returned; when
    the parameters were spilled to memory (more than 16 flat values) the
    spill area already has the result's layout and its pointer is returned.
    """
    types = [t for _, t in params]
    result: Ty = types[0] if len(types) == 1 else TupleT(tuple(types))
    cp, cr = core_signature(types, result, lowered=False)
    flat = flatten_all(types)
    if len(flat) > MAX_FLAT_PARAMS or len(flatten(result)) == 1 and len(flat) == 1:
        body = "(local.get 0)"
        locals_ = ""
    else:
        labels = Labels()
        vals = [f"(local.get {i})" for i in range(len(flat))]
        ret = f"(local.get {len(flat)})"
        stores = store_flat(result, vals, ret, 0, labels)
        locals_ = "(local i32)"
        body = (f"(local.set {len(flat)} (call $alloc (i32.const {alignment(result)}) "
                f"(i32.const {elem_size(result)})))\n" + "\n".join(stores) + f"\n{ret}")
    core = f'(func (export "{name}") {sig_text(cp, cr)} {locals_}\n{body})'
    return Export(name, tuple(params), result, core)


def forward_export(name: str, imp: Import) -> Export:
    """Export with the import's type whose core function just calls the import."""
    types = [t for _, t in imp.params]
    cp, cr = core_signature(types, imp.result, lowered=False)
    args = " ".join(f"(local.get {i})" for i in range(len(cp)))
    if imp.result is not None and len(flatten(imp.result)) > MAX_FLAT_RESULTS:
        r = imp.result
        body = (f"(local.set {len(cp)} (call $alloc (i32.const {alignment(r)}) (i32.const {elem_size(r)})))"
                f"(call ${imp.name} {args} (local.get {len(cp)})) (local.get {len(cp)})")
        core = f'(func (export "{name}") {sig_text(cp, cr)} (local i32) {body})'
    else:
        core = f'(func (export "{name}") {sig_text(cp, cr)} (call ${imp.name} {args}))'
    return Export(name, imp.params, imp.result, core)


def identity_component(ty: Ty, string_encoding: str = "utf8") -> Built:
    """Component exporting `echo: func(x: ty) -> ty`, implemented in the guest."""
    return build_component([identity_export("echo", [("x", ty)])], string_encoding=string_encoding)


def params_component(params: Sequence[tuple[str, Ty]]) -> Built:
    """Component exporting `echo` taking several params and returning them as a tuple."""
    return build_component([identity_export("echo", params)])


def host_roundtrip_component(ty: Ty, string_encoding: str = "utf8") -> Built:
    """Component importing `host-fn: func(x: ty) -> ty` and exporting `call-host` forwarding to it."""
    imp = Import("host-fn", (("x", ty),), ty)
    return build_component([forward_export("call-host", imp)], [imp], string_encoding=string_encoding)


# --------------------------------------------------------------------------
# Small fixed components


def simple_component() -> Built:
    """`noop`, `add(a, b: u32) -> u32` and `trap` (executes `unreachable`)."""
    exports = [
        Export("noop", (), None, '(func (export "noop"))'),
        Export("add", (("a", U32), ("b", U32)), U32,
               '(func (export "add") (param i32 i32) (result i32) '
               '(i32.add (local.get 0) (local.get 1)))'),
        Export("trap", (), None, '(func (export "trap") unreachable)'),
    ]
    return build_component(exports)


def reentrant_component() -> Built:
    """`run(x: u32) -> u32` calls the host import `host-fn(x: u32) -> u32`;
    `trap` traps. The host may try to call `run` again (reentrance)."""
    imp = Import("host-fn", (("x", U32),), U32)
    exports = [forward_export("run", imp),
               Export("trap", (), None, '(func (export "trap") unreachable)')]
    return build_component(exports, [imp])
