"""Convert `.wast` scripts to JSON commands + binaries, with a content cache.

`wasm-tools json-from-wast` does the parsing.  The result for a script is
stored under ``<cache>/<key>/`` where the key hashes the script bytes, the
`wasm-tools` version and `FORMAT_VERSION`; a hit costs one directory
lookup.  Entries are built in a temporary directory and renamed into place,
so concurrent runs never see half-written output.

Fallbacks, in order:

1. the whole script, as is;
2. the whole script with ``WAST_STRICT_COMPONENT_INDICES=0`` (legacy
   ``(memory $i "name")`` index syntax);
3. form by form: each top-level s-expression is written to its own small
   script, padded with newlines so line numbers match the original, and
   converted separately.  Forms that still fail are recorded in
   `Conversion.skipped_forms` with the converter's message.

Command ``filename`` fields are rewritten to paths relative to the entry
directory (`Conversion.root`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cancellable
from .sexpr import Form, SplitError, split_forms

FORMAT_VERSION = "2"
LEGACY_INDICES_ENV = "WAST_STRICT_COMPONENT_INDICES"
CACHE_ENV = "WASMCOMPONENT_CONFORMANCE_CACHE"
_FILE_KEYS = ("filename", "binary_filename")


class ConversionError(RuntimeError):
    """`wasm-tools` is missing or failed in a way no fallback handles."""


@dataclass(frozen=True)
class SkippedForm:
    """A top-level form the converter rejected."""

    line: int
    kind: str
    reason: str


@dataclass
class Conversion:
    """Converted script: JSON commands plus where their binaries live."""

    root: Path
    commands: list[dict[str, Any]]
    skipped_forms: list[SkippedForm] = field(default_factory=list)
    method: str = "whole"

    def read_file(self, name: str) -> bytes:
        """Bytes of a binary (or text) module referenced by a command."""
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise ConversionError(f"module path `{name}` escapes the cache entry")
        return path.read_bytes()


def default_cache_dir() -> Path:
    """Cache root: `$WASMCOMPONENT_CONFORMANCE_CACHE`, else `<repo>/.cache/conformance`."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".cache" / "conformance"


def form_kind(form: Form) -> str:
    """Directive kind a top-level form would produce (e.g. `module`, `assert_trap`)."""
    words = form.text[1:].replace("(", " ").replace(")", " ").split()
    head = words[0] if words else ""
    second = words[1] if len(words) > 1 else ""
    if head in ("component", "module"):
        if second == "definition":
            return "module_definition"
        if second == "instance":
            return "module_instance"
        return "module"
    if head == "invoke":
        return "action"
    return head


class Converter:
    """Runs `wasm-tools json-from-wast` and caches the results."""

    def __init__(self, cache_dir: Path | None = None, wasm_tools: str = "wasm-tools") -> None:
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.wasm_tools = wasm_tools
        self._version: str | None = None

    def tool_version(self) -> str:
        """`wasm-tools --version` output (memoised per converter)."""
        if self._version is None:
            try:
                out = subprocess.run(
                    [self.wasm_tools, "--version"], capture_output=True, text=True, check=True
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                raise ConversionError(f"cannot run `{self.wasm_tools}`: {exc}") from exc
            self._version = out.stdout.strip()
        return self._version

    def cache_key(self, source: bytes) -> str:
        digest = hashlib.sha256()
        for part in (FORMAT_VERSION.encode(), self.tool_version().encode(), source):
            digest.update(len(part).to_bytes(8, "little"))
            digest.update(part)
        return digest.hexdigest()[:32]

    def convert(self, wast: Path) -> Conversion:
        """Convert `wast`, reusing a cached result when the content is unchanged."""
        source = wast.read_bytes()
        entry = self.cache_dir / self.cache_key(source)
        meta = entry / "commands.json"
        if meta.is_file():
            return _load_entry(entry)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.cache_dir))
        try:
            payload = self._convert_into(wast, source, tmp)
            (tmp / "commands.json").write_text(json.dumps(payload))
            try:
                os.replace(tmp, entry)
            except OSError:
                # Another process won the race; its entry is equivalent.
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _load_entry(entry)

    def _run(self, script: Path, out_dir: Path, legacy: bool) -> tuple[bool, str]:
        out_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        if legacy:
            env[LEGACY_INDICES_ENV] = "0"
        try:
            proc = subprocess.run(
                [
                    self.wasm_tools, "json-from-wast", str(script),
                    "-o", str(out_dir / "out.json"), "--wasm-dir", str(out_dir),
                ],
                capture_output=True, text=True, env=env, timeout=300,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConversionError(f"cannot run `{self.wasm_tools}`: {exc}") from exc
        return proc.returncode == 0, proc.stderr.strip()

    def _convert_into(self, wast: Path, source: bytes, tmp: Path) -> dict[str, Any]:
        whole = tmp / "whole"
        first_error = ""
        for legacy in (False, True):
            ok, err = self._run(wast, whole, legacy)
            if ok:
                commands = _relocate(_read_commands(whole / "out.json"), "whole")
                return {"method": "whole-legacy-indices" if legacy else "whole",
                        "commands": commands, "skipped_forms": []}
            first_error = first_error or err
            shutil.rmtree(whole, ignore_errors=True)
        return self._convert_by_form(wast, source, tmp, first_error)

    def _convert_by_form(
        self, wast: Path, source: bytes, tmp: Path, whole_error: str
    ) -> dict[str, Any]:
        try:
            forms = split_forms(source.decode("utf-8"))
        except (UnicodeDecodeError, SplitError) as exc:
            raise ConversionError(
                f"{wast}: conversion failed ({_first_line(whole_error)}) and the script "
                f"cannot be split into forms: {exc}"
            ) from exc
        commands: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        for index, form in enumerate(forms):
            sub = f"forms/{index}"
            script = tmp / "forms" / f"{index}.wast"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text("\n" * (form.line - 1) + form.text + "\n")
            ok, err = self._run(script, tmp / sub, legacy=True)
            if not ok and cancellable.uses_cancellable(form.text):
                ok, err = self._run_without_cancellable(form, script, tmp / sub, err)
            if ok:
                commands.extend(_relocate(_read_commands(tmp / sub / "out.json"), sub))
            else:
                skipped.append({"line": form.line, "kind": form_kind(form),
                                "reason": _first_line(err)})
        return {"method": "by-form", "commands": commands, "skipped_forms": skipped}


    def _run_without_cancellable(self, form: Form, script: Path, out_dir: Path, err: str) -> tuple[bool, str]:
        """Convert ``form`` without ``cancellable``, then set the flag in its binaries (see :mod:`.cancellable`)."""
        text, flags = cancellable.strip(form.text)
        script.write_text("\n" * (form.line - 1) + text + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        ok, _ = self._run(script, out_dir, legacy=True)
        if not ok:
            return False, err
        for binary in sorted(out_dir.glob("*.wasm")):
            if binary.read_bytes()[4:8] == b"\x0d\x00\x01\x00" and not cancellable.patch(binary, flags):
                return False, err
        return True, ""


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("error: ")
    return "conversion failed"


def _read_commands(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    commands = data.get("commands") if isinstance(data, dict) else None
    if not isinstance(commands, list):
        raise ConversionError(f"{path}: no command list in converter output")
    return commands


def _relocate(commands: list[dict[str, Any]], sub: str) -> list[dict[str, Any]]:
    """Prefix every module file name with its sub-directory of the entry."""
    for command in commands:
        for key in _FILE_KEYS:
            if isinstance(command.get(key), str):
                command[key] = f"{sub}/{command[key]}"
        nested = command.get("commands")
        if isinstance(nested, list):
            _relocate(nested, sub)
    return commands


def _load_entry(entry: Path) -> Conversion:
    data = json.loads((entry / "commands.json").read_text())
    skipped = [SkippedForm(int(s["line"]), str(s["kind"]), str(s["reason"]))
               for s in data.get("skipped_forms", [])]
    return Conversion(entry, list(data["commands"]), skipped, str(data.get("method", "whole")))


def validator_features_needed(
    data: bytes, candidates: dict[str, str], wasm_tools: str = "wasm-tools"
) -> list[str]:
    """Which `candidates` (key -> wasm-tools feature name) `data` cannot validate without.

    `wasm-tools validate` is the oracle: a binary that is valid with every
    feature on, but invalid once a candidate is turned off, needs that
    candidate.  Returns `[]` for binaries invalid regardless.
    """
    if not candidates:
        return []
    with tempfile.TemporaryDirectory(prefix="wast-oracle-") as tmp:
        binary = Path(tmp) / "module.wasm"
        binary.write_bytes(data)

        def valid(features: str) -> bool:
            try:
                proc = subprocess.run(
                    [wasm_tools, "validate", f"--features={features}", str(binary)],
                    capture_output=True, timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired):
                return False
            return proc.returncode == 0

        if not valid("all"):
            return []
        return [key for key, name in candidates.items() if not valid(f"all,-{name}")]
