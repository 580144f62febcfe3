"""Decode a component binary into :mod:`wasmcomponent.binary.ast`.

One function per production of ``design/mvp/Binary.md``, each dispatching on
its leading byte and failing with wasmparser's uniform ``invalid leading byte
(0x..) for <production>`` message.  Where wasmparser's reader and the spec
text disagree, the decoder follows wasmparser, because wasm-tools produces the
binaries we load:

* a ``value`` extern descriptor is a bare ``valtype`` (no ``valuebound`` byte);
* ``sort`` in exports, instantiation arguments and export aliases accepts only
  ``core module`` among the core sorts;
* a ``valtype`` type index is read as an s33 and truncated to u32 (a negative
  code that is not a primitive becomes a huge, later-invalid index).

Design and limits:

* Only the component layer is decoded.  Core modules stay raw bytes (the core
  engine compiles them); only the core *type* encodings that occur inside
  components (function, GC rec groups, module types) are parsed.
* Nested components are decoded recursively into :class:`ComponentAST`; all
  offsets refer to the outermost binary.  wasmparser's limits apply with its
  messages: at most :data:`MAX_MODULES_AND_COMPONENTS` modules and components
  in all ("modules and components count exceeds limit of 1000") and
  component / instance types nested at most :data:`MAX_TYPE_NESTING` deep
  ("component type nesting is too deep").  Components nested deeper than
  :data:`MAX_NESTING` are valid but not supported here (``UnsupportedError``):
  every layer walks them recursively, and this bound keeps that within the
  Python stack.
* Sections are bounded sub-readers: an item running past its section is an
  ``unexpected end-of-file`` at the section end, and leftover bytes are a
  ``section size mismatch``.
* Nothing but :class:`~wasmcomponent.errors.DecodeError` (and
  ``UnsupportedError`` for the nesting above) escapes :func:`decode_component`.
"""

from __future__ import annotations

from typing import Callable, Union

from ..errors import DecodeError, UnsupportedError
from . import ast
from .primitives import PRIMITIVES, PrimType
from .reader import Reader

__all__ = ["decode_component", "MAGIC", "COMPONENT_PREAMBLE", "MAX_NESTING"]

MAGIC = b"\x00asm"
COMPONENT_VERSION = 0x0D
COMPONENT_LAYER = 0x01
COMPONENT_PREAMBLE = MAGIC + bytes([COMPONENT_VERSION, 0, COMPONENT_LAYER, 0])
MODULE_PREAMBLE = MAGIC + b"\x01\x00\x00\x00"

MAX_NESTING = 100
"""Maximum depth of nested components this runtime supports (wasmparser has none)."""
MAX_TYPE_NESTING = 100
"""wasmparser's ``MAX_WASM_COMPONENT_TYPE_DEPTH`` for nested component/instance types."""
MAX_MODULES_AND_COMPONENTS = 1000
"""wasmparser's cap on the modules and components of one binary, the outermost included."""

UNBOUNDED = 1 << 32
"""Vector limit for section item counts (wasmparser imposes none there)."""

# wasmparser's reader limits (crates/wasmparser/src/limits.rs).
MAX_FUNCTION_PARAMS = 1000
MAX_FUNCTION_RETURNS = 1000
MAX_TYPES = 1_000_000
MAX_SUPERTYPES = 1
MAX_STRUCT_FIELDS = 10_000
MAX_MODULE_TYPE_DECLS = 100_000
MAX_COMPONENT_TYPE_DECLS = 1_000_000
MAX_INSTANCE_TYPE_DECLS = 1_000_000
MAX_RECORD_FIELDS = 10_000
MAX_VARIANT_CASES = 10_000
MAX_TUPLE_TYPES = 10_000
MAX_FLAG_NAMES = 1_000
MAX_ENUM_CASES = 10_000
MAX_INSTANTIATION_ARGS = 100_000
MAX_INSTANTIATION_EXPORTS = 100_000
MAX_CANONICAL_OPTIONS = 10
MAX_START_ARGS = 1000
MAX_MODULE_SIZE = 1024 * 1024 * 1024

PRIM_BY_CODE: dict[int, PrimType] = {
    0x7F: PRIMITIVES["bool"],
    0x7E: PRIMITIVES["s8"],
    0x7D: PRIMITIVES["u8"],
    0x7C: PRIMITIVES["s16"],
    0x7B: PRIMITIVES["u16"],
    0x7A: PRIMITIVES["s32"],
    0x79: PRIMITIVES["u32"],
    0x78: PRIMITIVES["s64"],
    0x77: PRIMITIVES["u64"],
    0x76: PRIMITIVES["f32"],
    0x75: PRIMITIVES["f64"],
    0x74: PRIMITIVES["char"],
    0x73: PRIMITIVES["string"],
    0x64: PRIMITIVES["error-context"],
}

CORE_NUM_TYPES: dict[int, str] = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}

ABSTRACT_HEAP_TYPES: dict[int, str] = {
    0x70: "func",
    0x6F: "extern",
    0x6E: "any",
    0x71: "none",
    0x72: "noextern",
    0x73: "nofunc",
    0x6D: "eq",
    0x6B: "struct",
    0x6A: "array",
    0x6C: "i31",
    0x69: "exn",
    0x74: "noexn",
    0x68: "cont",
    0x75: "nocont",
}

CORE_SORTS: dict[int, ast.Sort] = {
    0x00: ast.Sort.CORE_FUNC,
    0x01: ast.Sort.CORE_TABLE,
    0x02: ast.Sort.CORE_MEMORY,
    0x03: ast.Sort.CORE_GLOBAL,
    0x04: ast.Sort.CORE_TAG,
}

COMPONENT_SORTS: dict[int, ast.Sort] = {
    0x01: ast.Sort.FUNC,
    0x02: ast.Sort.VALUE,
    0x03: ast.Sort.TYPE,
    0x04: ast.Sort.COMPONENT,
    0x05: ast.Sort.INSTANCE,
}

CANON_OPTS: dict[int, tuple[str, bool]] = {
    0x00: ("utf8", False),
    0x01: ("utf16", False),
    0x02: ("latin1+utf16", False),
    0x03: ("memory", True),
    0x04: ("realloc", True),
    0x05: ("post-return", True),
    0x06: ("async", False),
    0x07: ("callback", True),
    0x08: ("core-type", True),
    0x09: ("gc", False),
}

# Immediate kinds for the generic canon built-ins.
_TYPE = "type"  # u32 component type index
_OPTS = "opts"  # canonopt vector
_ASYNC = "async"  # async? flag byte
_CANCEL = "cancellable"  # cancel? flag byte
_SHARED = "shared"  # sh? flag byte
_MEMORY = "memory"  # u32 core memory index
_CORE_VALTYPE = "valtype"  # core valtype
_SLOT = "slot"  # u32
_CORE_TYPE = "func-type"  # u32 core type index
_TABLE = "table"  # u32 core table index
_RESULT = "result"  # resultlist

CANON_BUILTINS: dict[int, tuple[str, tuple[str, ...]]] = {
    0x24: ("backpressure.inc", ()),
    0x25: ("backpressure.dec", ()),
    0x09: ("task.return", (_RESULT, _OPTS)),
    0x05: ("task.cancel", ()),
    0x0A: ("context.get", (_CORE_VALTYPE, _SLOT)),
    0x0B: ("context.set", (_CORE_VALTYPE, _SLOT)),
    0x06: ("subtask.cancel", (_ASYNC,)),
    0x0D: ("subtask.drop", ()),
    0x0E: ("stream.new", (_TYPE,)),
    0x0F: ("stream.read", (_TYPE, _OPTS)),
    0x10: ("stream.write", (_TYPE, _OPTS)),
    0x11: ("stream.cancel-read", (_TYPE, _ASYNC)),
    0x12: ("stream.cancel-write", (_TYPE, _ASYNC)),
    0x13: ("stream.drop-readable", (_TYPE,)),
    0x14: ("stream.drop-writable", (_TYPE,)),
    0x15: ("future.new", (_TYPE,)),
    0x16: ("future.read", (_TYPE, _OPTS)),
    0x17: ("future.write", (_TYPE, _OPTS)),
    0x18: ("future.cancel-read", (_TYPE, _ASYNC)),
    0x19: ("future.cancel-write", (_TYPE, _ASYNC)),
    0x1A: ("future.drop-readable", (_TYPE,)),
    0x1B: ("future.drop-writable", (_TYPE,)),
    0x1C: ("error-context.new", (_OPTS,)),
    0x1D: ("error-context.debug-message", (_OPTS,)),
    0x1E: ("error-context.drop", ()),
    0x1F: ("waitable-set.new", ()),
    0x20: ("waitable-set.wait", (_CANCEL, _MEMORY)),
    0x21: ("waitable-set.poll", (_CANCEL, _MEMORY)),
    0x22: ("waitable-set.drop", ()),
    0x23: ("waitable.join", ()),
    0x26: ("thread.index", ()),
    0x27: ("thread.new-indirect", (_CORE_TYPE, _TABLE)),
    0x28: ("thread.resume-later", ()),
    0x29: ("thread.suspend", (_CANCEL,)),
    0x0C: ("thread.yield", (_CANCEL,)),
    0x2A: ("thread.suspend-then-resume", (_CANCEL,)),
    0x2B: ("thread.yield-then-resume", (_CANCEL,)),
    0x2C: ("thread.suspend-then-promote", (_CANCEL,)),
    0x2D: ("thread.yield-then-promote", (_CANCEL,)),
    0x40: ("thread.spawn-ref", (_SHARED, _CORE_TYPE)),
    0x41: ("thread.spawn-indirect", (_SHARED, _CORE_TYPE, _TABLE)),
    0x42: ("thread.available-parallelism", (_SHARED,)),
}
"""Every canon opcode other than lift/lower/resource.*: spec name and immediates."""


# ============================================================ entry point


def decode_component(data: Union[bytes, bytearray, memoryview]) -> ast.ComponentAST:
    """Decode a component binary.

    Raises :class:`DecodeError` for anything malformed, including a core
    module passed where a component is expected.

    >>> c = decode_component(COMPONENT_PREAMBLE)
    >>> c.sections, c.custom_sections
    ((), ())
    """
    buf = bytes(data)
    reader = Reader(buf)
    try:
        return _component(reader, 0, [1])
    except RecursionError:
        raise DecodeError("nesting is too deep", reader.pos) from None


# ============================================================ components


def _preamble(r: Reader, nested: bool) -> None:
    start = r.pos
    if r.remaining() < 4 or r.data[start:start + 4] != MAGIC:
        if r.remaining() < 4 and MAGIC.startswith(r.data[start:r.end]):
            r.eof()
        actual = ", ".join(f"{b:#x}" for b in r.data[start:min(start + 4, r.end)])
        r.fail(
            f"magic header not detected: bad magic number - expected=[0x0, 0x61, 0x73, 0x6d] actual=[{actual}]",
            start,
        )
    if r.remaining() < 8:
        r.pos = r.end
        r.eof()
    header = r.data[start + 4:start + 8]
    if header == MODULE_PREAMBLE[4:]:
        if nested:
            r.fail("expected a version header for a component", start)
        r.fail(
            "expected a component, found a core wasm module "
            "(load it with `wasmtime.Module`, or componentize it first)",
            start,
        )
    if header != COMPONENT_PREAMBLE[4:]:
        value = int.from_bytes(header, "little")
        r.fail(f"unknown binary version: {value:#010x}", start + 4)
    r.pos = start + 8


def _component(r: Reader, depth: int, count: list[int]) -> ast.ComponentAST:
    """A component occupying the whole of ``r``; ``count`` holds the number of
    modules and components met so far in the whole binary."""
    if depth > MAX_NESTING:
        raise UnsupportedError(
            f"components nested more than {MAX_NESTING} deep are not supported (at offset {r.pos:#x})"
        )
    start = r.pos
    _preamble(r, depth > 0)
    sections: list[ast.Section] = []
    customs: list[ast.CustomSection] = []
    seen_start = False
    nested = depth > 0
    while not r.at_end():
        if r.remaining() >= 4 and r.data[r.pos:r.pos + 4] == MAGIC:
            r.fail("expected section, got wasm magic number", r.pos)
        id_pos = r.pos
        section_id = r.u8()
        if section_id & 0x80:
            r.fail("malformed section id", id_pos)
        len_pos = r.pos
        size = r.u32()
        if size > r.remaining():
            if nested:
                r.fail(f"section too large, {size} goes past {r.end:#x}", len_pos)
            r.pos = r.end
            r.eof()
        body = r.sub(size)
        if section_id == 0:
            customs.append(_custom_section(body))
            continue
        if section_id == 9:
            if seen_start:
                r.fail("component cannot have more than one start function", body.pos)
            seen_start = True
        sections.append(_section(section_id, body, len_pos, depth, count))
    return ast.ComponentAST(tuple(sections), tuple(customs), offset=start, end=r.end)


def _section(section_id: int, r: Reader, len_pos: int, depth: int, count: list[int]) -> ast.Section:
    offset = r.pos
    if section_id in (1, 4):
        count[0] += 1
        if count[0] > MAX_MODULES_AND_COMPONENTS:
            r.fail(f"modules and components count exceeds limit of {MAX_MODULES_AND_COMPONENTS}", offset)
    if section_id == 1:
        if r.remaining() > MAX_MODULE_SIZE:
            r.fail("module section is too large", len_pos)
        _check_core_module(r)
        return ast.CoreModuleSection(r.bytes(r.remaining()), offset=offset)
    if section_id == 4:
        if r.remaining() > MAX_MODULE_SIZE:
            r.fail("component section is too large", len_pos)
        return ast.ComponentSection(_component(r, depth + 1, count), offset=offset)
    if section_id == 9:
        start = _start(r)
        if not r.at_end():
            r.fail("unexpected content in the component start section", r.pos)
        return ast.StartSection(start, offset=offset)
    reader = _VEC_SECTIONS.get(section_id)
    if reader is None:
        r.fail(f"malformed section id: {section_id}", offset)
    # Type nesting starts afresh in every component (wasmparser counts it per type).
    items = r.vec(lambda rr: reader(rr, 0), UNBOUNDED, "section items")
    if not r.at_end():
        r.fail("section size mismatch: unexpected data at the end of the section", r.pos)
    return _SECTION_CLASSES[section_id](items, offset=offset)  # type: ignore[arg-type]


CORE_SECTION_ORDER: dict[int, int] = {
    section_id: rank for rank, section_id in enumerate((1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11))
}
"""Core module section ids in their required order (the tag section sits after memory)."""


def _check_core_module(r: Reader) -> None:
    """Check a module section's preamble and section framing; bodies are not parsed.

    Walking the section headers costs one step per section and reports
    framing errors with wasmparser's wording before the core engine sees them.
    """
    start = r.pos
    head = r.data[start:start + min(8, r.remaining())]
    if head[:4] != MAGIC[: len(head[:4])]:
        r.fail("magic header not detected: bad magic number", start)
    if len(head) < 8:
        r.fail("unexpected end-of-file", r.end)
    if head[4:] == COMPONENT_PREAMBLE[4:]:
        r.fail("expected a version header for a module", start)
    if head != MODULE_PREAMBLE:
        r.fail(f"unknown binary version: {int.from_bytes(head[4:8], 'little'):#010x}", start + 4)
    scan = Reader(r.data, start + 8, r.end)
    last_rank = -1
    while not scan.at_end():
        if scan.remaining() >= 4 and scan.data[scan.pos:scan.pos + 4] == MAGIC:
            scan.fail("expected section, got wasm magic number", scan.pos)
        id_pos = scan.pos
        section_id = scan.u8()
        if section_id & 0x80:
            scan.fail("malformed section id", id_pos)
        len_pos = scan.pos
        size = scan.u32()
        if size > scan.remaining():
            scan.fail(f"section too large, {size} goes past {scan.end:#x}", len_pos)
        body_pos = scan.pos
        scan.pos += size
        if section_id == 0:
            continue
        rank = CORE_SECTION_ORDER.get(section_id)
        if rank is None:
            scan.fail(f"malformed section id: {section_id}", body_pos)
        if rank <= last_rank:
            scan.fail("section out of order", body_pos)
        last_rank = rank


def _custom_section(r: Reader) -> ast.CustomSection:
    offset = r.pos
    name = r.name()
    return ast.CustomSection(name, r.bytes(r.remaining()), offset=offset)


# ============================================================ core types


def _core_valtype(r: Reader) -> ast.CoreValType:
    byte = r.peek()
    num = CORE_NUM_TYPES.get(byte)
    if num is not None:
        r.pos += 1
        return num
    return _core_reftype(r, "invalid value type")


def _core_reftype(r: Reader, abstract_error: str = "malformed reference type") -> ast.CoreRefType:
    pos = r.pos
    byte = r.peek()
    if byte in (0x63, 0x64):
        r.pos += 1
        return _heap_type(r, byte == 0x63)
    if byte == 0x62:
        r.fail("unexpected exact type", pos)
    shared = byte == 0x65
    if shared:
        r.pos += 1
    return ast.CoreRefType(True, _abstract_heap_type(r, abstract_error), shared=shared)


def _abstract_heap_type(r: Reader, message: str) -> str:
    byte = r.u8()
    name = ABSTRACT_HEAP_TYPES.get(byte)
    if name is None:
        r.fail(message, r.pos - 1)
    return name


def _heap_type(r: Reader, nullable: bool) -> ast.CoreRefType:
    start = r.pos
    value = r.s33()
    if value >= 0:
        return ast.CoreRefType(nullable, value)
    r.pos = start
    byte = r.peek()
    if byte == 0x65:
        r.pos += 1
        return ast.CoreRefType(nullable, _abstract_heap_type(r, "invalid heap type"), shared=True)
    if byte == 0x62:
        r.pos += 1
        return ast.CoreRefType(nullable, r.u32(), exact=True)
    return ast.CoreRefType(nullable, _abstract_heap_type(r, "invalid heap type"))


def _storage_type(r: Reader) -> ast.CoreValType:
    byte = r.peek()
    if byte == 0x78:
        r.pos += 1
        return "i8"
    if byte == 0x77:
        r.pos += 1
        return "i16"
    return _core_valtype(r)


def _field_type(r: Reader) -> ast.CoreFieldType:
    storage = _storage_type(r)
    mutable = r.u8()
    if mutable > 1:
        r.fail("malformed mutability byte for field type", r.pos)
    return ast.CoreFieldType(storage, mutable == 1)


def _composite_type(r: Reader, opcode: int, offset: int) -> tuple[ast.CoreCompositeType, bool]:
    shared = opcode == 0x65
    if shared:
        opcode = r.u8()
    if opcode in (0x4C, 0x4D):
        r.fail("custom descriptors (describes/descriptor) are not supported", r.pos - 1)
    composite: ast.CoreCompositeType
    if opcode == 0x60:
        params = r.vec(_core_valtype, MAX_FUNCTION_PARAMS, "function params")
        results = r.vec(_core_valtype, MAX_FUNCTION_RETURNS, "function returns")
        composite = ast.CoreFuncType(params, results, offset=offset)
    elif opcode == 0x5E:
        composite = ast.CoreArrayType(_field_type(r))
    elif opcode == 0x5F:
        composite = ast.CoreStructType(r.vec(_field_type, MAX_STRUCT_FIELDS, "struct fields"))
    elif opcode == 0x5D:
        index = r.s33()
        if index < 0:
            r.fail("invalid continuation type", r.pos)
        composite = ast.CoreContType(index)
    else:
        r.invalid_leading_byte(opcode, "type")
    return composite, shared


def _sub_type(r: Reader) -> ast.CoreSubType:
    offset = r.pos
    opcode = r.u8()
    if opcode in (0x4F, 0x50):
        supertypes = r.vec(Reader.u32, MAX_SUPERTYPES, "supertype idxs")
        composite, shared = _composite_type(r, r.u8(), offset)
        return ast.CoreSubType(opcode == 0x4F, supertypes, composite, shared)
    composite, shared = _composite_type(r, opcode, offset)
    return ast.CoreSubType(True, (), composite, shared)


def _rec_group(r: Reader) -> Union[ast.CoreFuncType, ast.CoreRecGroup]:
    offset = r.pos
    if r.peek() == 0x4E:
        r.pos += 1
        return ast.CoreRecGroup(r.vec(_sub_type, MAX_TYPES, "rec group types"), True, offset=offset)
    sub = _sub_type(r)
    if (
        sub.final
        and not sub.supertypes
        and not sub.shared
        and isinstance(sub.composite, ast.CoreFuncType)
    ):
        return sub.composite
    return ast.CoreRecGroup((sub,), False, offset=offset)


def _limits(r: Reader, wide: bool, has_max: bool) -> tuple[int, int | None]:
    read = r.u64 if wide else r.u32
    minimum = read()
    return minimum, (read() if has_max else None)


def _core_extern_desc(r: Reader) -> ast.CoreExternDesc:
    kind = r.u8()
    if kind == 0x00:
        return ast.CoreFuncDesc(r.u32())
    if kind == 0x20:
        return ast.CoreFuncDesc(r.u32(), exact=True)
    if kind == 0x01:
        element = _core_reftype(r)
        pos = r.pos
        flags = r.u8()
        if flags & ~0b111:
            r.fail("invalid table resizable limits flags", pos)
        minimum, maximum = _limits(r, bool(flags & 0b100), bool(flags & 0b001))
        return ast.CoreTableDesc(element, minimum, maximum, bool(flags & 0b100), bool(flags & 0b010))
    if kind == 0x02:
        pos = r.pos
        flags = r.u8()
        if flags & ~0b1111:
            r.fail("invalid memory limits flags", pos)
        minimum, maximum = _limits(r, bool(flags & 0b0100), bool(flags & 0b0001))
        page_size: int | None = None
        if flags & 0b1000:
            page_size = r.u32()
            if page_size >= 64:
                r.fail("invalid custom page size", pos)
        return ast.CoreMemoryDesc(
            minimum, maximum, bool(flags & 0b0100), bool(flags & 0b0010), page_size
        )
    if kind == 0x03:
        content = _core_valtype(r)
        flags = r.u8()
        if flags > 0b11:
            r.fail("malformed global flags", r.pos - 1)
        return ast.CoreGlobalDesc(content, bool(flags & 1), bool(flags & 2))
    if kind == 0x04:
        if r.u8() != 0:
            r.fail("invalid tag attributes", r.pos - 1)
        return ast.CoreTagDesc(r.u32())
    r.invalid_leading_byte(kind, "external kind")


def _core_module_decl(r: Reader) -> ast.CoreModuleDecl:
    offset = r.pos
    tag = r.u8()
    if tag == 0x00:
        module = r.name()
        name = r.name()
        return ast.CoreImportDecl(module, name, _core_extern_desc(r), offset=offset)
    if tag == 0x01:
        return ast.CoreTypeDeclInModule(_rec_group(r), offset=offset)
    if tag == 0x02:
        kind = r.u8()
        if kind != 0x10:
            r.invalid_leading_byte(kind, "outer alias kind")
        target = r.u8()
        if target != 0x01:
            r.invalid_leading_byte(target, "outer alias target")
        count = r.u32()
        return ast.CoreOuterAliasDecl(count, r.u32(), offset=offset)
    if tag == 0x03:
        name = r.name()
        return ast.CoreExportDecl(name, _core_extern_desc(r), offset=offset)
    r.invalid_leading_byte(tag, "type definition")


def _core_type(r: Reader, depth: int = 0) -> ast.CoreType:
    offset = r.pos
    byte = r.peek()
    if byte == 0x00:
        r.pos += 1
        following = r.peek()
        if following != 0x50:
            r.invalid_leading_byte(following, "non-final sub type", r.pos)
        return _rec_group(r)
    if byte == 0x50:
        r.pos += 1
        decls = r.vec(_core_module_decl, MAX_MODULE_TYPE_DECLS, "module type declaration")
        return ast.CoreModuleType(decls, offset=offset)
    return _rec_group(r)


# ============================================================ component types


def _valtype(r: Reader) -> ast.ValTypeRef:
    prim = PRIM_BY_CODE.get(r.peek())
    if prim is not None:
        r.pos += 1
        return prim
    return r.s33() & 0xFFFFFFFF


def _opt_valtype(r: Reader) -> ast.ValTypeRef | None:
    byte = r.u8()
    if byte == 0x00:
        return None
    if byte == 0x01:
        return _valtype(r)
    r.invalid_leading_byte(byte, "optional component value type")


def _labelled_valtype(r: Reader) -> tuple[str, ast.ValTypeRef]:
    name = r.name()
    return name, _valtype(r)


def _variant_case(r: Reader) -> ast.VariantCaseDef:
    name = r.name()
    payload = _opt_valtype(r)
    byte = r.u8()
    if byte != 0x00:
        r.invalid_leading_byte(byte, "zero byte required")
    return ast.VariantCaseDef(name, payload)


def _resultlist(r: Reader) -> ast.ValTypeRef | None:
    byte = r.u8()
    if byte == 0x00:
        return _valtype(r)
    if byte == 0x01:
        following = r.u8()
        if following != 0x00:
            r.invalid_leading_byte(following, "number of results")
        return None
    r.invalid_leading_byte(byte, "component function results")


def _defined_type(r: Reader, code: int, offset: int) -> ast.DefValType:
    if code == 0x72:
        return ast.RecordDef(r.vec(_labelled_valtype, MAX_RECORD_FIELDS, "record field"), offset=offset)
    if code == 0x71:
        return ast.VariantDef(r.vec(_variant_case, MAX_VARIANT_CASES, "variant cases"), offset=offset)
    if code == 0x70:
        return ast.ListDef(_valtype(r), offset=offset)
    if code == 0x63:
        key = _valtype(r)
        return ast.MapDef(key, _valtype(r), offset=offset)
    if code == 0x6F:
        return ast.TupleDef(r.vec(_valtype, MAX_TUPLE_TYPES, "tuple types"), offset=offset)
    if code == 0x6E:
        return ast.FlagsDef(r.vec(Reader.name, MAX_FLAG_NAMES, "flag names"), offset=offset)
    if code == 0x6D:
        return ast.EnumDef(r.vec(Reader.name, MAX_ENUM_CASES, "enum cases"), offset=offset)
    if code == 0x6B:
        return ast.OptionDef(_valtype(r), offset=offset)
    if code == 0x6A:
        ok = _opt_valtype(r)
        return ast.ResultDef(ok, _opt_valtype(r), offset=offset)
    if code == 0x69:
        return ast.OwnDef(r.u32(), offset=offset)
    if code == 0x68:
        return ast.BorrowDef(r.u32(), offset=offset)
    if code == 0x67:
        element = _valtype(r)
        return ast.FixedListDef(element, r.u32(), offset=offset)
    if code == 0x66:
        return ast.StreamDef(_opt_valtype(r), offset=offset)
    if code == 0x65:
        return ast.FutureDef(_opt_valtype(r), offset=offset)
    r.invalid_leading_byte(code, "component defined type", offset)


def _deftype(r: Reader, depth: int) -> ast.DefType:
    offset = r.pos
    code = r.u8()
    if code == 0x3F:
        rep = _core_valtype(r)
        flag = r.u8()
        if flag == 0x00:
            dtor: int | None = None
        elif flag == 0x01:
            dtor = r.u32()
        else:
            r.invalid_leading_byte(flag, "resource destructor")
        return ast.ResourceTypeDef(rep, dtor, offset=offset)
    if code in (0x40, 0x43):
        params = r.vec(_labelled_valtype, MAX_FUNCTION_PARAMS, "component function parameters")
        return ast.FuncTypeDef(params, _resultlist(r), is_async=code == 0x43, offset=offset)
    if code in (0x41, 0x42):
        if depth >= MAX_TYPE_NESTING:
            r.fail("component type nesting is too deep", r.pos)
        if code == 0x41:
            decls = r.vec(
                lambda rr: _component_decl(rr, depth + 1),
                MAX_COMPONENT_TYPE_DECLS,
                "component type declaration",
            )
            return ast.ComponentTypeDef(decls, offset=offset)
        instance_decls = r.vec(
            lambda rr: _instance_decl(rr, depth + 1),
            MAX_INSTANCE_TYPE_DECLS,
            "instance type declaration",
        )
        return ast.InstanceTypeDef(instance_decls, offset=offset)
    prim = PRIM_BY_CODE.get(code)
    if prim is not None:
        return ast.PrimDef(prim, offset=offset)
    return _defined_type(r, code, offset)


def _component_decl(r: Reader, depth: int) -> ast.ComponentDecl:
    if r.peek() == 0x03:
        offset = r.pos
        r.pos += 1
        name = _extern_name(r)
        return ast.ImportDecl(name, _extern_desc(r), offset=offset)
    return _instance_decl(r, depth)


def _instance_decl(r: Reader, depth: int) -> ast.InstanceDecl:
    offset = r.pos
    tag = r.u8()
    if tag == 0x00:
        return ast.CoreTypeDecl(_core_type(r), offset=offset)
    if tag == 0x01:
        return ast.TypeDecl(_deftype(r, depth), offset=offset)
    if tag == 0x02:
        return ast.AliasDecl(_alias(r), offset=offset)
    if tag == 0x04:
        name = _extern_name(r)
        return ast.ExportDecl(name, _extern_desc(r), offset=offset)
    r.invalid_leading_byte(tag, "component or instance type declaration")


# ============================================================ names, sorts, externs


_NAME_OPTION_LABELS = {0x00: "implements", 0x01: "versionsuffix", 0x02: "external-id"}


def _extern_name(r: Reader) -> ast.ExternName:
    offset = r.pos
    encoding = r.u8()
    if encoding > 0x02:
        r.invalid_leading_byte(encoding, "component name")
    name = r.name()
    found: dict[int, str] = {}
    if encoding == 0x02:
        count = r.count(UNBOUNDED, "name options")
        for _ in range(count):
            pos = r.pos
            kind = r.u8()
            if kind not in _NAME_OPTION_LABELS:
                r.invalid_leading_byte(kind, "name option")
            value = r.name()
            if kind in found:
                r.fail(f"duplicate '{_NAME_OPTION_LABELS[kind]}' option in name", pos)
            found[kind] = value
    return ast.ExternName(
        name,
        implements=found.get(0x00),
        version_suffix=found.get(0x01),
        external_id=found.get(0x02),
        encoding=encoding,
        offset=offset,
    )


def _extern_kind(r: Reader) -> ast.Sort:
    """``sort`` as wasmparser's ``ComponentExternalKind``: core module or a component sort."""
    offset = r.pos
    first = r.u8()
    if first == 0x00:
        second = r.u8()
        if second != 0x11:
            r.invalid_leading_byte(second, "component external kind", offset + 1)
        return ast.Sort.CORE_MODULE
    sort = COMPONENT_SORTS.get(first)
    if sort is None:
        r.invalid_leading_byte(first, "component external kind", offset)
    return sort


def _type_bound(r: Reader) -> ast.TypeBound:
    tag = r.u8()
    if tag == 0x00:
        return ast.TypeBoundEq(r.u32())
    if tag == 0x01:
        return ast.TypeBoundSubResource()
    r.invalid_leading_byte(tag, "type bound")


def _extern_desc(r: Reader) -> ast.ExternDesc:
    sort = _extern_kind(r)
    if sort is ast.Sort.CORE_MODULE:
        return ast.ExternCoreModule(r.u32())
    if sort is ast.Sort.FUNC:
        return ast.ExternFunc(r.u32())
    if sort is ast.Sort.VALUE:
        return ast.ExternValue(ast.ValueBoundType(_valtype(r)))
    if sort is ast.Sort.TYPE:
        return ast.ExternType(_type_bound(r))
    if sort is ast.Sort.COMPONENT:
        return ast.ExternComponent(r.u32())
    return ast.ExternInstance(r.u32())


def _core_sort(r: Reader, offset: int) -> ast.Sort:
    byte = r.u8()
    sort = CORE_SORTS.get(byte)
    if sort is None:
        r.invalid_leading_byte(byte, "external kind", offset)
    return sort


# ============================================================ aliases and instances


def _alias(r: Reader) -> ast.Alias:
    offset = r.pos
    first = r.u8()
    second = r.u8() if first == 0x00 else None
    tag = r.u8()
    if tag == 0x00:
        sort = _sort_from_bytes(r, first, second, offset)
        instance = r.u32()
        return ast.InstanceExportAlias(sort, instance, r.name(), offset=offset)
    if tag == 0x01:
        if second is None:
            r.invalid_leading_byte(first, "core instance export kind", offset)
        core = CORE_SORTS.get(second)
        if core is None:
            r.invalid_leading_byte(second, "external kind", offset)
        instance = r.u32()
        return ast.CoreInstanceExportAlias(core, instance, r.name(), offset=offset)
    if tag == 0x02:
        if first == 0x00:
            outer = {0x10: ast.Sort.CORE_TYPE, 0x11: ast.Sort.CORE_MODULE}.get(second or 0)
            if outer is None:
                r.invalid_leading_byte(second or 0, "component outer alias kind", offset + 1)
        else:
            outer = {0x03: ast.Sort.TYPE, 0x04: ast.Sort.COMPONENT}.get(first)
            if outer is None:
                r.invalid_leading_byte(first, "component outer alias kind", offset)
        count = r.u32()
        return ast.OuterAlias(outer, count, r.u32(), offset=offset)
    r.invalid_leading_byte(tag, "alias")


def _sort_from_bytes(r: Reader, first: int, second: int | None, offset: int) -> ast.Sort:
    if first == 0x00:
        if second != 0x11:
            r.invalid_leading_byte(second or 0, "component external kind", offset + 1)
        return ast.Sort.CORE_MODULE
    sort = COMPONENT_SORTS.get(first)
    if sort is None:
        r.invalid_leading_byte(first, "component external kind", offset)
    return sort


def _core_instantiate_arg(r: Reader) -> ast.CoreInstantiateArg:
    name = r.name()
    kind = r.u8()
    if kind != 0x12:
        r.invalid_leading_byte(kind, "instantiation arg kind")
    return ast.CoreInstantiateArg(name, r.u32())


def _core_inline_export(r: Reader) -> ast.CoreInlineExport:
    name = r.name()
    sort = _core_sort(r, r.pos)
    return ast.CoreInlineExport(name, sort, r.u32())


def _core_instance(r: Reader, depth: int = 0) -> ast.CoreInstance:
    offset = r.pos
    tag = r.u8()
    if tag == 0x00:
        module = r.u32()
        args = r.vec(_core_instantiate_arg, MAX_INSTANTIATION_ARGS, "core instantiation arguments")
        return ast.CoreInstantiate(module, args, offset=offset)
    if tag == 0x01:
        exports = r.vec(_core_inline_export, MAX_INSTANTIATION_ARGS, "core instantiation arguments")
        return ast.CoreInlineExports(exports, offset=offset)
    r.invalid_leading_byte(tag, "core instance")


def _instantiate_arg(r: Reader) -> ast.InstantiateArg:
    name = r.name()
    sort = _extern_kind(r)
    return ast.InstantiateArg(name, sort, r.u32())


def _inline_export(r: Reader) -> ast.InlineExport:
    name = _extern_name(r)
    sort = _extern_kind(r)
    return ast.InlineExport(name, sort, r.u32())


def _instance(r: Reader, depth: int = 0) -> ast.Instance:
    offset = r.pos
    tag = r.u8()
    if tag == 0x00:
        component = r.u32()
        args = r.vec(_instantiate_arg, MAX_INSTANTIATION_ARGS, "instantiation arguments")
        return ast.Instantiate(component, args, offset=offset)
    if tag == 0x01:
        exports = r.vec(_inline_export, MAX_INSTANTIATION_EXPORTS, "instantiation exports")
        return ast.InlineExports(exports, offset=offset)
    r.invalid_leading_byte(tag, "instance")


# ============================================================ canon


def _canon_opt(r: Reader) -> ast.CanonOpt:
    offset = r.pos
    code = r.u8()
    spec = CANON_OPTS.get(code)
    if spec is None:
        r.invalid_leading_byte(code, "canonical option")
    kind, has_index = spec
    return ast.CanonOpt(kind, r.u32() if has_index else None, offset=offset)


def _canon_opts(r: Reader) -> ast.CanonOptions:
    return ast.CanonOptions(r.vec(_canon_opt, MAX_CANONICAL_OPTIONS, "canonical options"))


def _canon(r: Reader, depth: int = 0) -> ast.Canon:
    offset = r.pos
    code = r.u8()
    if code == 0x00:
        sub = r.u8()
        if sub != 0x00:
            r.invalid_leading_byte(sub, "canonical function lift")
        core_func = r.u32()
        lift_options = _canon_opts(r)
        return ast.CanonLift(core_func, lift_options, r.u32(), offset=offset)
    if code == 0x01:
        sub = r.u8()
        if sub != 0x00:
            r.invalid_leading_byte(sub, "canonical function lower")
        func = r.u32()
        return ast.CanonLower(func, _canon_opts(r), offset=offset)
    if code == 0x02:
        return ast.CanonResourceNew(r.u32(), offset=offset)
    if code == 0x03:
        return ast.CanonResourceDrop(r.u32(), offset=offset)
    if code == 0x04:
        return ast.CanonResourceRep(r.u32(), offset=offset)
    builtin = CANON_BUILTINS.get(code)
    if builtin is None:
        r.invalid_leading_byte(code, "canonical function")
    name, immediates = builtin
    values: list[tuple[str, ast.CanonImmediate]] = []
    options: ast.CanonOptions | None = None
    for kind in immediates:
        if kind == _OPTS:
            options = _canon_opts(r)
        elif kind == _RESULT:
            values.append((kind, _resultlist(r)))
        elif kind == _CORE_VALTYPE:
            valtype = _core_valtype(r)
            values.append((kind, valtype if isinstance(valtype, str) else str(valtype)))
        elif kind in (_ASYNC, _CANCEL, _SHARED):
            values.append((kind, r.flag()))
        else:
            values.append((kind, r.u32()))
    return ast.CanonBuiltin(name, code, tuple(values), options, offset=offset)


# ============================================================ start, imports, exports, values


def _start(r: Reader) -> ast.Start:
    offset = r.pos
    func = r.u32()
    args = r.vec(Reader.u32, MAX_START_ARGS, "start function arguments")
    pos = r.pos
    results = r.u32()
    if results > MAX_FUNCTION_RETURNS:
        r.fail("start function results size is out of bounds", pos)
    return ast.Start(func, args, results, offset=offset)


def _import(r: Reader, depth: int = 0) -> ast.Import:
    offset = r.pos
    name = _extern_name(r)
    return ast.Import(name, _extern_desc(r), offset=offset)


def _export(r: Reader, depth: int = 0) -> ast.Export:
    offset = r.pos
    name = _extern_name(r)
    sort = _extern_kind(r)
    index = r.u32()
    flag = r.u8()
    desc: ast.ExternDesc | None
    if flag == 0x00:
        desc = None
    elif flag == 0x01:
        desc = _extern_desc(r)
    else:
        r.invalid_leading_byte(flag, "optional component export type")
    return ast.Export(name, sort, index, desc, offset=offset)


def _value(r: Reader, depth: int = 0) -> ast.Value:
    offset = r.pos
    valtype = _valtype(r)
    size = r.u32()
    return ast.Value(valtype, r.bytes(size), offset=offset)


def _core_type_item(r: Reader, depth: int) -> ast.CoreType:
    return _core_type(r, depth)


_VEC_SECTIONS: dict[int, Callable[[Reader, int], object]] = {
    2: _core_instance,
    3: _core_type_item,
    5: _instance,
    6: lambda r, depth: _alias(r),
    7: _deftype,
    8: _canon,
    10: _import,
    11: _export,
    12: _value,
}

_SECTION_CLASSES: dict[int, Callable[..., ast.Section]] = {
    2: ast.CoreInstanceSection,
    3: ast.CoreTypeSection,
    5: ast.InstanceSection,
    6: ast.AliasSection,
    7: ast.TypeSection,
    8: ast.CanonSection,
    10: ast.ImportSection,
    11: ast.ExportSection,
    12: ast.ValueSection,
}
