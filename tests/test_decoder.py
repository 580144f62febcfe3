"""Tests for the component binary decoder (``wasmcomponent.binary``).

Hand-written components (WAT converted with ``wasm-tools parse``) are decoded
and compared with hand-built ASTs; hand-assembled binaries pin the error
messages; and every component of the conformance suites must decode while
every binary ``assert_malformed`` must fail with the expected message.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from corpus import CONFORMANCE_DIR, WASM_TOOLS, convert_wast, module_commands, wast_files
from wasmcomponent.binary import ast
from wasmcomponent.binary.decoder import COMPONENT_PREAMBLE, decode_component
from wasmcomponent.binary.reader import Reader
from wasmcomponent.errors import ComponentError, DecodeError, UnsupportedError
from wasmcomponent.types.model import PRIMITIVES

U8, U32, U64, STRING = (PRIMITIVES[n] for n in ("u8", "u32", "u64", "string"))

needs_wasm_tools = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools CLI not installed")


# ----------------------------------------------------------------- helpers


def wat(text: str) -> bytes:
    """Component text to binary with the wasm-tools CLI (falls back to wat2wasm)."""
    if WASM_TOOLS is None:
        return bytes(wasmtime.wat2wasm(text))
    done = subprocess.run(
        [WASM_TOOLS, "parse", "-"], input=text.encode(), capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + leb(len(body)) + body


def name(text: str) -> bytes:
    raw = text.encode()
    return leb(len(raw)) + raw


def component(*sections: bytes) -> bytes:
    return COMPONENT_PREAMBLE + b"".join(sections)


def items(tree: ast.ComponentAST, kind: type, attr: str) -> list[Any]:
    """All items of every section of ``kind``, in order."""
    return [item for s in tree.sections if isinstance(s, kind) for item in getattr(s, attr)]


def decode_error(data: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_component(data)
    return info.value


# ----------------------------------------------------------------- basics


def test_empty_component() -> None:
    tree = decode_component(wat("(component)"))
    assert tree == ast.ComponentAST(sections=())
    assert tree.end == 8


def test_accepts_bytearray_and_memoryview() -> None:
    data = wat("(component (type u8))")
    assert decode_component(bytearray(data)) == decode_component(memoryview(data))


def test_core_module_is_kept_raw_with_offset() -> None:
    data = wat('(component (core module (func (export "f"))) (core module))')
    tree = decode_component(data)
    modules = [s for s in tree.sections if isinstance(s, ast.CoreModuleSection)]
    assert len(modules) == 2
    for module in modules:
        assert module.data == data[module.offset:module.offset + len(module.data)]
        assert module.data.startswith(b"\0asm\x01\0\0\0")
    wasmtime.Module(wasmtime.Engine(), modules[0].data)  # the bytes are a real module


def test_value_types() -> None:
    tree = decode_component(
        wat(
            """(component
              (core module $m (func (export "dtor") (param i32)))
              (core instance $i (instantiate $m))
              (alias core export $i "dtor" (core func $dtor))
              (type $r (record (field "a" u32) (field "b" string)))
              (type $v (variant (case "a") (case "b" u8)))
              (type (list $r))
              (type (list u8 4))
              (type (tuple u8 $r))
              (type (flags "x" "y"))
              (type (enum "p" "q"))
              (type (option string))
              (type (result u32 (error string)))
              (type (result))
              (type $res (resource (rep i32) (dtor (core func $dtor))))
              (type (own $res))
              (type (borrow $res))
              (type (stream u8))
              (type (future))
              (type (map string u32))
              (type error-context)
              (type u64)
              (type (func (param "a" u32) (param "b" $r) (result string)))
              (type (func async (param "x" u8)))
            )"""
        )
    )
    types = items(tree, ast.TypeSection, "types")
    assert types == [
        ast.RecordDef((("a", U32), ("b", STRING))),
        ast.VariantDef((ast.VariantCaseDef("a", None), ast.VariantCaseDef("b", U8))),
        ast.ListDef(0),
        ast.FixedListDef(U8, 4),
        ast.TupleDef((U8, 0)),
        ast.FlagsDef(("x", "y")),
        ast.EnumDef(("p", "q")),
        ast.OptionDef(STRING),
        ast.ResultDef(U32, STRING),
        ast.ResultDef(None, None),
        ast.ResourceTypeDef("i32", 0),
        ast.OwnDef(10),
        ast.BorrowDef(10),
        ast.StreamDef(U8),
        ast.FutureDef(None),
        ast.MapDef(STRING, U32),
        ast.PrimDef(PRIMITIVES["error-context"]),
        ast.PrimDef(U64),
        ast.FuncTypeDef((("a", U32), ("b", 0)), STRING),
        ast.FuncTypeDef((("x", U8),), None, is_async=True),
    ]
    # Offsets point at the leading byte of each definition.
    data = wat("(component (type (record (field \"a\" u32))) (type (list u8)))")
    tree = decode_component(data)
    record, lst = items(tree, ast.TypeSection, "types")
    assert data[record.offset] == 0x72 and data[lst.offset] == 0x70


def test_component_and_instance_types() -> None:
    tree = decode_component(
        wat(
            """(component
              (type $outer u32)
              (type (component
                (core type (module
                  (type (func (param i32) (result i64)))
                  (import "a" "b" (func (type 0)))
                  (import "a" "t" (table 1 funcref))
                  (import "a" "g" (global (mut f32)))
                  (export "m" (memory 1 2))))
                (type $t (record (field "x" u32)))
                (alias outer 1 $outer (type $o))
                (import "i" (instance (export "f" (func))))
                (type $ft (func (param "p" $t)))
                (export "e" (func (type $ft)))
                (import "r" (type (sub resource)))
                (export "t2" (type (eq $t)))
              ))
            )"""
        )
    )
    _, ctype = items(tree, ast.TypeSection, "types")
    assert isinstance(ctype, ast.ComponentTypeDef)
    decls = ctype.decls
    module_type = decls[0]
    assert module_type == ast.CoreTypeDecl(
        ast.CoreModuleType(
            (
                ast.CoreTypeDeclInModule(ast.CoreFuncType(("i32",), ("i64",))),
                ast.CoreImportDecl("a", "b", ast.CoreFuncDesc(0)),
                ast.CoreImportDecl(
                    "a", "t", ast.CoreTableDesc(ast.CoreRefType(True, "func"), 1, None)
                ),
                ast.CoreImportDecl("a", "g", ast.CoreGlobalDesc("f32", True)),
                ast.CoreExportDecl("m", ast.CoreMemoryDesc(1, 2)),
            )
        )
    )
    assert decls[1] == ast.TypeDecl(ast.RecordDef((("x", U32),)))
    assert decls[2] == ast.AliasDecl(ast.OuterAlias(ast.Sort.TYPE, 1, 0))
    instance_import = decls[4]
    assert isinstance(instance_import, ast.ImportDecl)
    assert instance_import.name.name == "i"
    assert instance_import.desc == ast.ExternInstance(2)
    assert isinstance(decls[3], ast.TypeDecl)
    assert decls[3].type == ast.InstanceTypeDef(
        (
            ast.TypeDecl(ast.FuncTypeDef((), None)),
            ast.ExportDecl(ast.ExternName("f"), ast.ExternFunc(0)),
        )
    )
    assert decls[5:] == (
        ast.TypeDecl(ast.FuncTypeDef((("p", 0),), None)),
        ast.ExportDecl(ast.ExternName("e"), ast.ExternFunc(3)),
        ast.ImportDecl(ast.ExternName("r"), ast.ExternType(ast.TypeBoundSubResource())),
        ast.ExportDecl(ast.ExternName("t2"), ast.ExternType(ast.TypeBoundEq(0))),
    )


def test_core_types_and_gc_rec_groups() -> None:
    tree = decode_component(
        wat(
            """(component
              (core type (func (param i32 i64 f32 f64 v128 externref) (result funcref)))
              (core rec (type (struct (field i32) (field (mut i8)))) (type (array i16)))
              (core type (sub (func)))
            )"""
        )
    )
    func, rec, sub = items(tree, ast.CoreTypeSection, "types")
    assert func == ast.CoreFuncType(
        ("i32", "i64", "f32", "f64", "v128", ast.CoreRefType(True, "extern")),
        (ast.CoreRefType(True, "func"),),
    )
    assert rec == ast.CoreRecGroup(
        (
            ast.CoreSubType(
                True,
                (),
                ast.CoreStructType(
                    (ast.CoreFieldType("i32", False), ast.CoreFieldType("i8", True))
                ),
            ),
            ast.CoreSubType(True, (), ast.CoreArrayType(ast.CoreFieldType("i16", False))),
        ),
        explicit=True,
    )
    # A non-final `sub` is prefixed by 0x00 inside components.
    assert sub == ast.CoreRecGroup(
        (ast.CoreSubType(False, (), ast.CoreFuncType((), ())),), explicit=False
    )


def test_imports_exports_aliases_and_instances() -> None:
    tree = decode_component(
        wat(
            """(component
              (type $ft (func (param "x" u32) (result u32)))
              (import "host" (instance $host (export "f" (func (type $ft)))))
              (import "[constructor]thing" (func (type $ft)))
              (import "wasi:cli/environment@0.2.3" (instance))
              (import "r" (type $r (sub resource)))
              (import "m" (core module $m (export "memory" (memory 1))))
              (alias export $host "f" (func $f))
              (core func $lf (canon lower (func $f) string-encoding=latin1+utf16))
              (core module $n (import "x" "f" (func (param i32) (result i32))))
              (core instance $x (export "f" (func $lf)))
              (core instance $ni (instantiate $n (with "x" (instance $x))))
              (core instance $mi (instantiate $m))
              (alias core export $mi "memory" (core memory $mem))
              (component $inner (import "f" (func)))
              (instance $ii (instantiate $inner (with "f" (func $f))))
              (instance $ie (export "a" (func $f)) (export "b" (core module $m)))
              (alias outer 0 $ft (type $ft2))
              (export "e" (func $f) (func (type $ft)))
              (export "[method]thing.do" (func $f))
            )"""
        )
    )
    imports = items(tree, ast.ImportSection, "imports")
    assert [i.name.name for i in imports] == [
        "host",
        "[constructor]thing",
        "wasi:cli/environment@0.2.3",
        "r",
        "m",
    ]
    assert imports[1].desc == ast.ExternFunc(0)
    assert imports[3].desc == ast.ExternType(ast.TypeBoundSubResource())
    assert isinstance(imports[4].desc, ast.ExternCoreModule)
    aliases = items(tree, ast.AliasSection, "aliases")
    assert aliases == [
        ast.InstanceExportAlias(ast.Sort.FUNC, 0, "f"),
        ast.CoreInstanceExportAlias(ast.Sort.CORE_MEMORY, 2, "memory"),
        ast.OuterAlias(ast.Sort.TYPE, 0, 0),
    ]
    (lower,) = items(tree, ast.CanonSection, "funcs")
    assert lower == ast.CanonLower(1, ast.CanonOptions((ast.CanonOpt("latin1+utf16"),)))
    assert lower.options.string_encoding == "latin1+utf16"
    assert items(tree, ast.CoreInstanceSection, "instances") == [
        ast.CoreInlineExports((ast.CoreInlineExport("f", ast.Sort.CORE_FUNC, 0),)),
        ast.CoreInstantiate(1, (ast.CoreInstantiateArg("x", 0),)),
        ast.CoreInstantiate(0, ()),
    ]
    assert items(tree, ast.InstanceSection, "instances") == [
        ast.Instantiate(0, (ast.InstantiateArg("f", ast.Sort.FUNC, 1),)),
        ast.InlineExports(
            (
                ast.InlineExport(ast.ExternName("a"), ast.Sort.FUNC, 1),
                ast.InlineExport(ast.ExternName("b"), ast.Sort.CORE_MODULE, 0),
            )
        ),
    ]
    exports = items(tree, ast.ExportSection, "exports")
    assert exports == [
        ast.Export(ast.ExternName("e"), ast.Sort.FUNC, 1, ast.ExternFunc(0)),
        ast.Export(ast.ExternName("[method]thing.do"), ast.Sort.FUNC, 1, None),
    ]
    nested = [s for s in tree.sections if isinstance(s, ast.ComponentSection)]
    assert len(nested) == 1
    assert items(nested[0].component, ast.ImportSection, "imports") == [
        ast.Import(ast.ExternName("f"), ast.ExternFunc(0))
    ]


def test_nested_component_offsets_are_absolute() -> None:
    data = wat("(component (type u8) (component (component (core module))))")
    tree = decode_component(data)
    outer = [s for s in tree.sections if isinstance(s, ast.ComponentSection)][0]
    inner = outer.component.sections[0]
    assert isinstance(inner, ast.ComponentSection)
    module = inner.component.sections[0]
    assert isinstance(module, ast.CoreModuleSection)
    assert data[module.offset:module.offset + 8] == b"\0asm\x01\0\0\0"
    assert data[inner.component.offset:inner.component.offset + 8] == COMPONENT_PREAMBLE
    assert inner.component.end == outer.component.end == len(data)


def test_canon_definitions() -> None:
    tree = decode_component(
        wat(
            """(component
              (core module $m (memory (export "mem") 1)
                (func (export "cb") (param i32 i32 i32) (result i32) unreachable)
                (func (export "f") (result i32) unreachable)
                (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
                (func (export "post") (param i32)))
              (core instance $i (instantiate $m))
              (alias core export $i "mem" (core memory $mem))
              (alias core export $i "cb" (core func $cb))
              (alias core export $i "f" (core func $cf))
              (alias core export $i "realloc" (core func $re))
              (alias core export $i "post" (core func $post))
              (type $st (stream u8))
              (type $fu (future string))
              (type $ft (func async (result u32)))
              (type $sync (func (result string)))
              (type $res (resource (rep i32)))
              (func (type $ft) (canon lift (core func $cf) async (callback $cb) (memory $mem)))
              (func (type $sync) (canon lift (core func $cf) (memory $mem) (realloc $re)
                 string-encoding=utf16 (post-return $post)))
              (core func (canon resource.new $res))
              (core func (canon resource.drop $res))
              (core func (canon resource.rep $res))
              (core func (canon task.return (result u32) (memory $mem)))
              (core func (canon context.get i32 0))
              (core func (canon subtask.cancel async))
              (core func (canon stream.read $st async (memory $mem)))
              (core func (canon future.cancel-write $fu async))
              (core func (canon error-context.drop))
              (core func (canon waitable-set.wait (memory $mem)))
              (core func (canon thread.yield))
            )"""
        )
    )
    funcs = items(tree, ast.CanonSection, "funcs")
    async_lift, sync_lift = funcs[:2]
    assert async_lift == ast.CanonLift(
        1,
        ast.CanonOptions(
            (ast.CanonOpt("async"), ast.CanonOpt("callback", 0), ast.CanonOpt("memory", 0))
        ),
        2,
    )
    assert async_lift.options.is_async and async_lift.options.callback == 0
    opts = sync_lift.options
    assert (opts.memory, opts.realloc, opts.post_return, opts.string_encoding) == (0, 2, 3, "utf16")
    assert not opts.is_async and opts.callback is None
    assert funcs[2:5] == [
        ast.CanonResourceNew(4),
        ast.CanonResourceDrop(4),
        ast.CanonResourceRep(4),
    ]
    builtins = funcs[5:]
    assert [(b.name, b.immediates) for b in builtins] == [
        ("task.return", (("result", U32),)),
        ("context.get", (("valtype", "i32"), ("slot", 0))),
        ("subtask.cancel", (("async", True),)),
        ("stream.read", (("type", 0),)),
        ("future.cancel-write", (("type", 1), ("async", True))),
        ("error-context.drop", ()),
        ("waitable-set.wait", (("cancellable", False), ("memory", 0))),
        ("thread.yield", (("cancellable", False),)),
    ]
    assert builtins[0].options == ast.CanonOptions((ast.CanonOpt("memory", 0),))
    assert builtins[3].options is not None and builtins[3].options.is_async
    assert builtins[3].get("type") == 0 and builtins[3].get("missing") is None


def test_start_value_and_custom_sections() -> None:
    start = section(9, leb(2) + leb(2) + leb(0) + leb(1) + leb(1))
    value = section(12, leb(1) + bytes([0x79]) + leb(1) + b"\x2a")
    custom = section(0, name("hello") + b"payload")
    tree = decode_component(component(custom, value, start))
    assert tree.sections == (
        ast.ValueSection((ast.Value(U32, b"\x2a"),)),
        ast.StartSection(ast.Start(2, (0, 1), 1)),
    )
    assert tree.custom_sections == (ast.CustomSection("hello", b"payload"),)
    assert tree.custom_sections[0].offset == 10


def test_extern_name_attributes() -> None:
    # nameattributes 0x02 with implements + versionsuffix + external-id.
    attrs = (
        leb(3)
        + b"\x00" + name("a:b/c")
        + b"\x01" + name("1")
        + b"\x02" + name("id")
    )
    imp = b"\x02" + name("x") + attrs + b"\x05" + leb(0)
    tree = decode_component(component(section(10, leb(1) + imp)))
    (only,) = items(tree, ast.ImportSection, "imports")
    assert only.name == ast.ExternName("x", implements="a:b/c", version_suffix="1", external_id="id")
    assert only.name.encoding == 2
    dup = b"\x02" + name("x") + leb(2) + b"\x00" + name("a:b/c") + b"\x00" + name("a:b/d")
    err = decode_error(component(section(10, leb(1) + dup + b"\x05\x00")))
    assert "duplicate 'implements' option in name" in str(err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo", ast.ParsedName("label", label="foo")),
        ("[constructor]r", ast.ParsedName("constructor", label="r", resource="r")),
        ("[method]r.m", ast.ParsedName("method", label="m", resource="r")),
        ("[static]r.m", ast.ParsedName("static", label="m", resource="r")),
        (
            "wasi:io/streams@0.2.0",
            ast.ParsedName("interface", "wasi:io/streams@0.2.0", None, "wasi", "io", "streams", "0.2.0"),
        ),
        ("a:b/c", ast.ParsedName("interface", "a:b/c", None, "a", "b", "c", None)),
        ("[method]nodot", ast.ParsedName("other", label="[method]nodot")),
        ("url=<https://x>", ast.ParsedName("url", label="url=<https://x>")),
    ],
)
def test_parse_extern_name(text: str, expected: ast.ParsedName) -> None:
    assert ast.parse_extern_name(text) == expected
    assert ast.ExternName(text).parsed == expected


def test_sort_helpers() -> None:
    assert ast.Sort.CORE_MEMORY.is_core and not ast.Sort.FUNC.is_core
    assert str(ast.Sort.CORE_FUNC) == "core func"
    assert ast.EXTERN_DESC_SORT[ast.ExternInstance] is ast.Sort.INSTANCE


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end-of-file (at offset 0x0)"),
        (b"\0as", "unexpected end-of-file"),
        (b"\0asm\x0d\0", "unexpected end-of-file"),
        (b"\x7fELF\x01\x01\x01\x00", "magic header not detected"),
        (b"\0asm\x01\0\0\0", "expected a component, found a core wasm module"),
        (b"\0asm\x0c\0\x01\0", "unknown binary version: 0x0001000c (at offset 0x4)"),
        (component(b"\x03\x05\x00"), "unexpected end-of-file"),
        (component(b"\x80\x00"), "malformed section id (at offset 0x8)"),
        (component(b"\x0d\x00"), "malformed section id: 13"),
        (component(section(7, leb(1) + b"\x72\x00\x00")), "section size mismatch"),
        (component(section(7, leb(2) + b"\x7f")), "unexpected end-of-file"),
        (component(section(7, leb(1) + b"\x60")), "invalid leading byte (0x60) for component defined type (at offset 0xb)"),
        (component(section(7, leb(1) + b"\x70\xff\xff\xff\xff\x1f")), "invalid var_s33"),
        (component(section(8, leb(1) + b"\x00\x00\xff\xff\xff\xff\x1f")), "invalid var_u32: integer too large"),
        (component(section(11, leb(1) + b"\x00\x02\xc3\x28")), "malformed UTF-8 encoding"),
        (component(section(8, leb(1) + b"\x0c\x02")), "invalid boolean value"),
        (component(section(8, leb(1) + b"\x50")), "invalid leading byte (0x50) for canonical function"),
        (component(section(9, b"\x00\x00\x00"), section(9, b"\x00\x00\x00")), "more than one start function"),
        (component(section(9, b"\x00\x00\x00\x00")), "unexpected content in the component start section"),
        (component(section(1, COMPONENT_PREAMBLE)), "expected a version header for a module"),
        (component(section(4, b"\0asm\x01\0\0\0")), "expected a version header for a component"),
        (component(COMPONENT_PREAMBLE), "expected section, got wasm magic number"),
        (component(section(7, b"\xff\xff\xff\xff\x0f")), "unexpected end-of-file"),
        (component(section(6, leb(1) + b"\x01\x01\x00\x00")), "invalid leading byte (0x1) for core instance export kind"),
    ],
)
def test_decode_errors(data: bytes, message: str) -> None:
    err = decode_error(data)
    assert message in str(err)
    assert isinstance(err, ComponentError)
    assert str(err).endswith(f"(at offset {err.offset:#x})")


def test_core_module_framing_errors() -> None:
    bad_order = b"\0asm\x01\0\0\0" + section(3, b"\x00") + section(1, b"\x00")
    assert "section out of order" in str(decode_error(component(section(1, bad_order))))
    too_long = b"\0asm\x01\0\0\0" + b"\x01\x09\x00"
    assert "section too large" in str(decode_error(component(section(1, too_long))))


def test_huge_vector_count_fails_fast() -> None:
    err = decode_error(component(section(7, leb(0xFFFFFFFF))))
    assert "unexpected end-of-file" in str(err)
    err = decode_error(component(section(7, leb(1) + b"\x72" + leb(0xFFFFFF))))
    assert "record field size is out of bounds" in str(err)


def test_deep_nesting_is_a_decode_error() -> None:
    inner = COMPONENT_PREAMBLE
    for _ in range(200):
        inner = component(section(4, inner))
    # Valid for wasmparser, but deeper than this runtime supports.
    with pytest.raises(UnsupportedError, match="nested more than 100 deep"):
        decode_component(inner)
    deep_type = b"\x42\x00"
    for _ in range(150):
        deep_type = b"\x42\x01\x01" + deep_type
    assert "nesting is too deep" in str(decode_error(component(section(7, leb(1) + deep_type))))


def test_reader_integers() -> None:
    assert Reader(b"\xe5\x8e\x26").u32() == 624485
    assert Reader(b"\xff\xff\xff\xff\x0f").u32() == 0xFFFFFFFF
    assert Reader(b"\x7f").s33() == -1
    assert Reader(b"\x40").s33() == -64
    assert Reader(b"\x80\x80\x80\x80\x70").s33() == -(1 << 32)
    assert Reader(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01").u64() == (1 << 64) - 1
    for data, message in [
        (b"\x80\x80\x80\x80\x80\x00", "integer representation too long"),
        (b"\xff\xff\xff\xff\x1f", "integer too large"),
        (b"\x80", "unexpected end-of-file (at offset 0x1)"),
    ]:
        with pytest.raises(DecodeError, match=re.escape(message)):
            Reader(data).u32()
    with pytest.raises(DecodeError, match="integer too large"):
        Reader(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02").u64()
    with pytest.raises(DecodeError, match="string size out of bounds"):
        Reader(leb(200_000) + b"x").name()


def test_large_core_module_decodes_quickly() -> None:
    import time

    payload = bytes(18_000_000)
    module = b"\0asm\x01\0\0\0" + section(0, name("blob") + payload)
    data = component(section(1, module), section(7, leb(1) + b"\x73"))
    start = time.perf_counter()
    tree = decode_component(data)
    assert time.perf_counter() - start < 1.0
    assert tree.sections[0] == ast.CoreModuleSection(module)


# ----------------------------------------------------------------- conformance suites


WAST_FILES = wast_files()


@needs_wasm_tools
@pytest.mark.parametrize("wast", WAST_FILES, ids=[str(p.relative_to(CONFORMANCE_DIR)) for p in WAST_FILES])
def test_conformance_components_decode(wast: Path, tmp_path: Path) -> None:
    spec = convert_wast(wast, tmp_path)
    if spec is None:
        pytest.skip(f"wasm-tools cannot convert {wast.name}")
    decoded = 0
    for command in module_commands(spec, ("module", "module_definition")):
        data = (tmp_path / command["filename"]).read_bytes()
        if not data.startswith(COMPONENT_PREAMBLE):
            continue  # a core module
        decode_component(data)
        decoded += 1
    for command in module_commands(spec, ("assert_malformed",)):
        data = (tmp_path / command["filename"]).read_bytes()
        err = decode_error(data)
        assert command["text"] in str(err), f"line {command['line']}: {err}"
