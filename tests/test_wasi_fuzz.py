"""The WASI fuzzer (fuzz/fuzz_wasi.py) in small: a smoke run, and proof that its checks can fail.

The smoke run drives a few hundred random WASI call sequences from the
``wasi_fuzz`` guest through the fuzzer's own command line (worker processes,
fixture, snapshots) and asserts no foreign exception, escape, hang or crash.
The other tests plant an escape and a hang through the fuzzer's test hooks and
check that they are reported, and check the snapshot comparison directly.
Scale the smoke run with ``WASMCOMPONENT_FUZZ_N`` (default 1: 200 sequences).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZER = ROOT / "fuzz" / "fuzz_wasi.py"
sys.path.insert(0, str(ROOT / "fuzz"))

import fuzz_wasi  # noqa: E402

from wasi_guests import build  # noqa: E402

FUZZ_N = max(1, int(os.environ.get("WASMCOMPONENT_FUZZ_N", "1")))
SUMMARY = re.compile(
    r"(?P<sequences>\d+) sequences, (?P<ops>\d+) ops .*completed (?P<completed>\d+), trapped (?P<trapped>\d+); "
    r"calls made (?P<made>\d+) \(ok (?P<ok>\d+), err (?P<err>\d+),.*foreign (?P<foreign>\d+), "
    r"escape (?P<escape>\d+), hang (?P<hang>\d+), crash (?P<crash>\d+)"
)


@pytest.fixture(scope="module")
def guest() -> Path:
    fuzz_wasi.register_world()
    return build("wasi_fuzz")


def fuzz(tmp_path: Path, *options: str, timeout: float = 600) -> tuple[int, dict[str, int], str]:
    """Run the fuzzer's command line; its exit status, summary counts and whole stdout."""
    proc = subprocess.run(
        [sys.executable, str(FUZZER), "--out", str(tmp_path / "findings"), "--progress", "1000", *options],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    match = SUMMARY.search(proc.stdout)
    assert match is not None, proc.stdout + proc.stderr
    return proc.returncode, {k: int(v) for k, v in match.groupdict().items()}, proc.stdout


def test_smoke_run_finds_nothing(guest: Path, tmp_path: Path) -> None:
    count = 200 * FUZZ_N
    status, counts, out = fuzz(tmp_path, "--count", str(count), "--seed", "10", "--jobs", "2", "--check-every", "50")
    assert (counts["foreign"], counts["escape"], counts["hang"], counts["crash"]) == (0, 0, 0, 0), out
    assert status == 0
    assert counts["sequences"] == count
    assert counts["completed"] + counts["trapped"] == count
    # the sequences really reach the host: calls succeed and fail with WASI errors
    assert counts["ok"] > count and counts["err"] > count, out


def test_a_planted_escape_is_reported(guest: Path, tmp_path: Path) -> None:
    status, counts, out = fuzz(tmp_path, "--count", "12", "--jobs", "1", "--group", "4", "--plant-escape", "5")
    assert status == 1
    assert counts["escape"] == 1 and counts["sequences"] == 12, out
    assert "escape at sequence 5" in out
    report = (tmp_path / "findings" / "escape-0-5.txt").read_text()
    assert "outside/canary.txt" in report


def test_a_planted_hang_is_reported(guest: Path, tmp_path: Path) -> None:
    status, counts, out = fuzz(tmp_path, "--count", "6", "--jobs", "1", "--plant-hang", "2", "--timeout", "3")
    assert status == 1
    assert counts["hang"] == 1 and counts["sequences"] == 6, out
    assert "hang at sequence 2" in out


def test_snapshot_sees_changes_outside_the_sandbox_only(tmp_path: Path) -> None:
    fixture = fuzz_wasi.Fixture.create(tmp_path)
    baseline = fixture.snapshot()
    assert not fuzz_wasi.differences(baseline, fixture.snapshot())

    # the guest's own directory may change freely
    (fixture.sandbox / "guest-made.txt").write_text("fine")
    os.symlink("../outside", fixture.sandbox / "guest-link")
    assert not fuzz_wasi.differences(baseline, fixture.snapshot())

    canary = fixture.outside / "canary.txt"
    info = canary.stat()
    canary.write_text("CANARY: must never change\n")  # same size, then the same mtime
    os.utime(canary, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert [line.split(":")[0] for line in fuzz_wasi.differences(baseline, fixture.snapshot())] == ["l1/l2/outside/canary.txt"]
    baseline = fixture.snapshot()

    (fixture.ro / "new.txt").write_text("")
    os.unlink(fixture.ro / "in")
    os.symlink("sub/s.txt", fixture.ro / "in")
    (fixture.root / "l1" / "peer.txt").chmod(0o600)
    changed = {line.split(":")[0] for line in fuzz_wasi.differences(baseline, fixture.snapshot())}
    # (ro/'s own mtime changes too, unless within the same clock tick as the fixture's making)
    assert changed - {"l1/l2/ro"} == {"l1/l2/ro/in", "l1/l2/ro/new.txt", "l1/peer.txt"}
    baseline = fixture.snapshot()

    # the sandbox replaced by a symlink is a change too
    os.rename(fixture.sandbox, fixture.base / "moved")
    os.symlink("outside", fixture.sandbox)
    assert "l1/l2/sandbox" in {line.split(":")[0] for line in fuzz_wasi.differences(baseline, fixture.snapshot())}


def test_sequences_depend_on_seed_and_index_only() -> None:
    first = [op.render() for op in fuzz_wasi.draw_sequence(7, 123, 24, "/x/outside")]
    again = [op.render() for op in fuzz_wasi.draw_sequence(7, 123, 24, "/x/outside")]
    other = [op.render() for op in fuzz_wasi.draw_sequence(7, 124, 24, "/x/outside")]
    assert first == again and first != other
    assert 12 <= len(first) <= 24
    names = {fuzz_wasi.OPS[op.code][0] for i in range(200) for op in fuzz_wasi.draw_sequence(1, i, 24, "/x")}
    assert len(names) == len(fuzz_wasi.OPS)  # every call of the table gets drawn
