"""What a new user sees when the file is not a component: one line that says why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from wasmcomponent import Component, DecodeError

ROOT = Path(__file__).resolve().parents[1]
HELLO = (ROOT / "examples" / "hello.wat").read_text()


def bad_inputs() -> dict[str, tuple[bytes, str]]:
    binary = bytes(wasmtime.wat2wasm(HELLO))
    return {
        "truncated": (binary[: len(binary) // 2], "unexpected end-of-file"),
        "core-module": (bytes(wasmtime.wat2wasm('(module (func (export "f")))')), "expected a component, found a core wasm module"),
        "text": (b"hello there\n", "not a component: no binary header"),
        "bad-wat": (b"(component (func $x))", "expected `(` at line 1:20"),
    }


@pytest.mark.parametrize("case", sorted(bad_inputs()))
def test_python_api_one_line_error(case: str) -> None:
    data, expected = bad_inputs()[case]
    with pytest.raises(DecodeError) as err:
        Component(wasmtime.Engine(), data)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("case", sorted(bad_inputs()))
def test_cli_one_line_error(case: str, tmp_path: Path) -> None:
    data, expected = bad_inputs()[case]
    path = tmp_path / "input.wasm"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-m", "wasmcomponent", "run", "--invoke", "f()", str(path)],
        capture_output=True, text=True, check=False, env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and expected in done.stderr
