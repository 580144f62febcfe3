"""The ``wasmcomponent`` command line.

``wasmcomponent run FILE --invoke 'name(args)'`` loads a component (binary
``.wasm`` or WAT text), instantiates it with WASI (``add_wasip2``), calls one export
with WAVE-encoded arguments and prints the result in WAVE on stdout::

    $ wasmcomponent run examples/hello.wat --invoke 'greet("world")'
    "Hello, world!"

Exports inside exported instances are named with ``#``:
``--invoke 'wasi:cli/run@0.2.0#run()'``.

Any wasmtime/wasmcomponent error, WAVE error or unreadable file is reported
as one ``error: ...`` line on stderr with exit status 1; ``ExitTrap`` exits
with its code.

Compiled components are cached on disk (``runtime.cache``), each entry
authenticated with a key kept outside the cache directory.  A guest that
could write the cache and read the key could make a later run execute its
code, so ``run`` refuses (exit status 2, naming both paths) a ``--dir`` whose
host directory contains, or is, the cache key file, and, unless
``--no-cache`` is given, one that contains the cache directory
(:func:`check_preopens`).  Paths are compared after ``realpath``.

The runtime is ``wasmcomponent`` itself.  For testing the command line
against the reference implementation, the environment variable
``WASMCOMPONENT_CLI_BACKEND=wasmtime`` switches to ``wasmtime.component``;
its reflection objects are then translated to our type model through their
public attributes only (:func:`model_valtype`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, Optional, Sequence, TextIO

import wasmtime

from .types import model
from .wave import WaveError, format_value, parse_call, parse_call_name

__all__ = ["main", "model_valtype", "model_functype", "check_preopens"]

BACKEND_ENV = "WASMCOMPONENT_CLI_BACKEND"
_BACKENDS = {"wasmcomponent": "wasmcomponent", "wasmtime": "wasmtime.component"}


class CliError(Exception):
    """A user-facing failure with a one-line message."""


class UsageError(CliError):
    """The command line cannot work for this component (exit status 2, as argparse's errors)."""


# ------------------------------------------------- public reflection -> model

_PRIMITIVE_CLASS_NAMES: dict[str, model.PrimType] = {
    "Bool": model.BOOL,
    "S8": model.S8,
    "S16": model.S16,
    "S32": model.S32,
    "S64": model.S64,
    "U8": model.U8,
    "U16": model.U16,
    "U32": model.U32,
    "U64": model.U64,
    "F32": model.F32,
    "F64": model.F64,
    "Char": model.CHAR,
    "String": model.STRING,
    "ErrorContext": model.ERROR_CONTEXT,
}


def _optional_model(ty: Any) -> model.ValType | None:
    return None if ty is None else model_valtype(ty)


def model_valtype(ty: Any) -> model.ValType:
    """The model type of a public ``ValType`` from wasmcomponent or wasmtime-py.

    Our own views carry their model node; wasmtime-py's are read through the
    attributes both APIs share.  Resource types become fresh identities (only
    their shape matters to WAVE, which has no resource values).
    """
    own = getattr(ty, "_model", None)
    if own is not None and type(ty).__module__.startswith("wasmcomponent."):
        result: model.ValType = own
        return result
    kind = type(ty).__name__
    prim = _PRIMITIVE_CLASS_NAMES.get(kind)
    if prim is not None:
        return prim
    if kind == "ListType":
        return model.ListType(model_valtype(ty.element))
    if kind == "RecordType":
        return model.RecordType(tuple((n, model_valtype(t)) for n, t in ty.fields))
    if kind == "TupleType":
        return model.TupleType(tuple(model_valtype(t) for t in ty.elements))
    if kind == "VariantType":
        return model.VariantType(tuple((n, _optional_model(t)) for n, t in ty.cases))
    if kind == "EnumType":
        return model.EnumType(tuple(ty.names))
    if kind == "OptionType":
        return model.OptionType(model_valtype(ty.payload))
    if kind == "ResultType":
        return model.ResultType(_optional_model(ty.ok), _optional_model(ty.err))
    if kind == "FlagsType":
        return model.FlagsType(tuple(ty.names))
    if kind == "OwnType":
        return model.OwnType(model.ResourceIdentity("resource"))
    if kind == "BorrowType":
        return model.BorrowType(model.ResourceIdentity("resource"))
    if kind == "StreamType":
        return model.StreamType(_optional_model(ty.payload))
    if kind == "FutureType":
        return model.FutureType(_optional_model(ty.payload))
    raise CliError(f"unsupported value type `{kind}`")


def model_functype(ty: Any) -> model.FuncType:
    """The model type of a public ``FuncType`` from wasmcomponent or wasmtime-py."""
    own = getattr(ty, "_model", None)
    if isinstance(own, model.FuncType):
        return own
    params = tuple((name, model_valtype(t)) for name, t in ty.params)
    return model.FuncType(params, _optional_model(ty.result))


# ---------------------------------------------------------------------- run


def _backend() -> Any:
    name = os.environ.get(BACKEND_ENV, "wasmcomponent")
    module = _BACKENDS.get(name)
    if module is None:
        raise CliError(f"unknown {BACKEND_ENV} `{name}` (expected one of {', '.join(_BACKENDS)})")
    return importlib.import_module(module)


def _find_func(store: wasmtime.Store, instance: Any, name: str) -> Any:
    """Look up ``name``; ``a#b#f`` walks exported instances ``a`` then ``b``."""
    *path, leaf = name.split("#")
    parent = None
    for part in path:
        parent = instance.get_export_index(store, part, parent)
        if parent is None:
            raise CliError(f"no exported instance named `{part}`")
    if parent is None:
        func = instance.get_func(store, leaf)
    else:
        index = instance.get_export_index(store, leaf, parent)
        func = None if index is None else instance.get_func(store, index)
    if func is None:
        raise CliError(f"no exported function named `{name}`")
    return func


def _wasi_config(path: str, options: WasiOptions) -> Any:
    """The WASI configuration of a CLI run: inherited stdio, the given dirs, env and args."""
    from .wasi import WasiConfig

    config = WasiConfig()
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    config.argv = [path, *options.args]
    pairs = []
    for item in options.env:
        name, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(name, "")
        pairs.append((name, value))
    config.env = pairs
    for spec in options.dirs:
        host, sep, guest = spec.partition("::")
        config.preopen_dir(host, guest if sep else host)
    if options.inherit_network:
        config.inherit_network()
    if options.allow_http:
        config.allow_outgoing_http()
    return config


class WasiOptions:
    """``--dir``/``--env``/``--inherit-network``/``--allow-http`` and the guest's arguments (after ``--``)."""

    def __init__(
        self,
        dirs: Sequence[str] = (),
        env: Sequence[str] = (),
        args: Sequence[str] = (),
        inherit_network: bool = False,
        allow_http: bool = False,
    ) -> None:
        self.dirs = list(dirs)
        self.env = list(env)
        self.args = list(args)
        self.inherit_network = inherit_network
        self.allow_http = allow_http


def check_preopens(dirs: Sequence[str], use_cache: bool) -> None:
    """Refuse a ``--dir`` preopen that would expose the compile cache or its key to the guest.

    The key file is protected even with ``--no-cache``: a guest that reads it
    (or plants its own) could forge entries for every later cached run.  The
    cache directory matters only when this run uses the cache; its entries
    are authenticated, so one planted by an earlier guest is only recompiled.
    """
    from .runtime.cache import CACHE_DIR_ENV, CACHE_KEY_ENV, cache_key_path, default_cache_dir

    protected = [("compile cache key", cache_key_path(), CACHE_KEY_ENV)]
    if use_cache:
        protected.append(("compile cache directory", default_cache_dir(), CACHE_DIR_ENV))
    for spec in dirs:
        host = spec.partition("::")[0]
        root = os.path.realpath(host)
        exposed = [
            (what, resolved, env)
            for what, target, env in protected
            for resolved in [os.path.realpath(target)]
            if os.path.commonpath([root, resolved]) == root
        ]
        if exposed:
            names = " and the ".join(f"{what} {resolved}" for what, resolved, _ in exposed)
            envs = " and ".join(env for _, _, env in exposed)
            hint = "" if any(env == CACHE_KEY_ENV for _, _, env in exposed) else ", or pass --no-cache"
            raise UsageError(
                f"--dir {host} would expose the {names} to the guest, which could then make later runs "
                f"execute its code; preopen a narrower directory, set {envs} to "
                f"{'paths' if len(exposed) > 1 else 'a path'} outside it{hint}"
            )


def run(
    path: str,
    call: Optional[str],
    out: TextIO,
    options: Optional[WasiOptions] = None,
    use_cache: bool = True,
) -> int:
    """Instantiate the component at ``path`` and perform the WAVE ``call``, printing its result.

    Without ``call``, run the component's ``wasi:cli/run`` export; the status is 0 for
    ``ok`` and 1 for ``err``.  WASI is always available, with inherited stdio.
    """
    options = options or WasiOptions()
    check_preopens(options.dirs, use_cache)
    backend = _backend()
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    component: Any
    if use_cache and backend.__name__ == "wasmcomponent":
        # Compiled components are cached on disk (see runtime.cache); a slow
        # first compile prints a one-line status on stderr.
        from .runtime.cache import load_component

        component = load_component(engine, path, progress=sys.stderr)
    else:
        component = backend.Component.from_file(engine, path)
    store.set_wasi(_wasi_config(path, options))
    linker = backend.Linker(engine)
    linker.add_wasip2()
    instance = linker.instantiate(store, component)
    if call is None:
        iface = None
        run_name = _run_export_name(component.type.exports(engine))
        if run_name is not None:
            iface = instance.get_export_index(store, run_name)
        if iface is None:
            raise UsageError("the component exports no `wasi:cli/run` (use --invoke to call an export)")
        index = instance.get_export_index(store, "run", iface)
        func = None if index is None else instance.get_func(store, index)
        if func is None:
            raise CliError("`wasi:cli/run` exports no `run` function")
        result = func(store)
        func.post_return(store)
        return 1 if getattr(result, "tag", "ok") == "err" else 0
    name = parse_call_name(call)
    func = _find_func(store, instance, name)
    functype = model_functype(func.type(store))
    _, args = parse_call(call, functype)
    result = func(store, *args)
    func.post_return(store)
    if functype.result is not None:
        out.write(format_value(result, functype.result) + "\n")
    return 0


def _run_export_name(exports: Any) -> Optional[str]:
    """The component's ``wasi:cli/run@0.2.x`` export with the highest patch version, if any."""

    def patch(name: str) -> int:
        tail = name.removeprefix("wasi:cli/run@0.2.")
        return int(tail) if tail.isdigit() else -1

    names = [name for name in exports if name.startswith("wasi:cli/run@0.2.")]
    return max(names, key=patch) if names else None


def _is_snippet_line(text: str) -> bool:
    """Source-excerpt lines of a WAT parse error (``--> file:1:2``, ``1 | code``, ``| ^``)."""
    head = text.split(" ", 1)[0]
    return text.startswith(("-->", "|")) or (head.isdigit() and text[len(head) :].startswith(" |"))


def _is_backtrace_line(text: str) -> bool:
    """wasmtime's trap backtrace: its heading and frames (``3: 0x1ac9eb - <unknown>!f``)."""
    if text.startswith("error while executing at wasm backtrace"):
        return True
    head, sep, rest = text.partition(": ")
    return bool(sep) and head.isdigit() and rest.lstrip().startswith("0x")


def _one_line(error: BaseException) -> str:
    """An error's text on one line: wasmtime's "Caused by" chain joined with `: `."""
    parts: list[str] = []
    for line in str(error).splitlines():
        text = line.strip()
        if not text or text == "Caused by:" or _is_snippet_line(text) or _is_backtrace_line(text):
            continue
        head, sep, rest = text.partition(": ")
        parts.append(rest.strip() if sep and head.isdigit() else text)
    return ": ".join(parts) or type(error).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wasmcomponent", description="Run WebAssembly components (pure-Python runtime)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run",
        help="run a `wasi:cli/run` command, or call one export with --invoke",
        description="Run a `wasi:cli/run` command, or call one export with --invoke.",
        epilog="Compiled components are cached in $WASMCOMPONENT_CACHE_DIR (default "
        "$XDG_CACHE_HOME/wasmcomponent or ~/.cache/wasmcomponent); every entry carries an HMAC-SHA256 "
        "with the key in $WASMCOMPONENT_CACHE_KEY_FILE (default $XDG_CONFIG_HOME/wasmcomponent/cache.key "
        "or ~/.config/wasmcomponent/cache.key, mode 0600), and a tampered entry is deleted and recompiled. "
        "A --dir whose host directory contains the key file is refused (exit status 2), and so is one that "
        "contains the cache directory unless --no-cache is given: a guest must not be able to write code "
        "that a later run executes.",
        usage="%(prog)s [-h] [--invoke CALL] [--dir HOST[::GUEST]] [--env K[=V]] [--inherit-network] [--allow-http] "
        "[--no-cache] file [-- args ...]",
    )
    run_cmd.add_argument("file", help="component binary (.wasm) or text (.wat)")
    run_cmd.add_argument(
        "--invoke",
        metavar="CALL",
        help="export to call with WAVE arguments, e.g. 'greet(\"world\")'",
    )
    run_cmd.add_argument(
        "--dir",
        action="append",
        default=[],
        metavar="HOST[::GUEST]",
        help="preopen a host directory (refused if it contains the compile cache or its key; see below)",
    )
    run_cmd.add_argument(
        "--env", action="append", default=[], metavar="K[=V]", help="set (or inherit) an environment variable"
    )
    run_cmd.add_argument(
        "--inherit-network", action="store_true", help="allow TCP, UDP and name lookup (denied by default)"
    )
    run_cmd.add_argument(
        "--allow-http", action="store_true", help="allow outgoing wasi:http requests (denied by default)"
    )
    run_cmd.add_argument(
        "--no-cache", action="store_true", help="compile without the on-disk compile cache (neither read nor written)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wasmcomponent`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    guest_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, guest_args = argv[:split], argv[split + 1 :]
    args = _parser().parse_args(argv)
    try:
        options = WasiOptions(args.dir, args.env, guest_args, args.inherit_network, args.allow_http)
        return run(args.file, args.invoke, sys.stdout, options, use_cache=not args.no_cache)
    except wasmtime.ExitTrap as exit_trap:
        return int(getattr(exit_trap, "code", 1))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (wasmtime.WasmtimeError, wasmtime.Trap, WaveError, CliError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
