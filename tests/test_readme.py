"""The README's quickstart runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs(tmp_path: Path) -> None:
    """From any directory: the quickstart needs no file of the repository."""
    text = (ROOT / "README.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["42", "[('a', U32()), ('b', U32())]"]


def run_example(heading: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the first Python example after ``heading`` in the README, from ``cwd``."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_async_example_runs(tmp_path: Path) -> None:
    """The example of the README's async section runs as written."""
    run_example("### Component Model async", tmp_path)


def test_asyncio_example_runs(tmp_path: Path) -> None:
    """The example of the README's asyncio section runs as written."""
    done = run_example("### asyncio", tmp_path)
    assert done.stdout.startswith("[1, 11, 21] 100 calls in ")
