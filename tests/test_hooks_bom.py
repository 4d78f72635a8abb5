"""`python -m aibom.hooks bom` on its own: timestamps, spec version, and hostile existing BOM files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from aibom import hooks


def _tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.ones((2, 2), dtype=np.float32)}, str(root / "model.safetensors"))
    (root / "requirements.txt").write_text("numpy==2.1.0\n", encoding="utf-8")
    return root


def _bom(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(hooks.main, ["bom", "--root", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_new_bom_uses_source_date_epoch_then_stays_put(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "p")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert _bom(root, "--spec-version", "1.7") == (
        1,
        "aibom-bom: bom.cdx.json written; review it and `git add bom.cdx.json`.\n",
    )
    doc = json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))
    assert doc["metadata"]["timestamp"] == "2023-11-14T22:13:20+00:00" and doc["specVersion"] == "1.7"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")  # a later run reuses the file's own timestamp
    before = (root / "bom.cdx.json").read_bytes()
    assert _bom(root) == (0, "")
    assert (root / "bom.cdx.json").read_bytes() == before  # spec version 1.7 kept from the file


def test_new_bom_takes_the_last_commit_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path / "p")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    env = {"GIT_COMMITTER_DATE": "2024-02-03T04:05:06+00:00", "PATH": "/usr/bin:/bin"}
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True, env=env)
    assert _bom(root)[0] == 1
    doc = json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))
    assert doc["metadata"]["timestamp"] == "2024-02-03T04:05:06+00:00"
    assert "bom.cdx.json" not in json.dumps(doc)  # the BOM neither lists nor mentions itself


def test_nesting_bomb_bom_is_replaced(tmp_path: Path) -> None:
    root = _tree(tmp_path / "p")
    (root / "bom.cdx.json").write_text('{"metadata": ' + "[" * 200_000, encoding="utf-8")
    assert _bom(root)[0] == 1
    assert json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))["specVersion"] == "1.6"


def test_cli_entry_point_runs_as_a_module(tmp_path: Path) -> None:
    root = _tree(tmp_path / "p")
    done = subprocess.run(
        [sys.executable, "-m", "aibom.hooks", "bom", "-o", "sbom/bom.json"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 1 and "sbom/bom.json written" in done.stderr
    assert json.loads((root / "sbom" / "bom.json").read_text())["bomFormat"] == "CycloneDX"


@pytest.fixture(scope="module")
def valid_bom(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    root = _tree(tmp_path_factory.mktemp("valid") / "p")
    assert _bom(root)[0] == 1
    return (root / "bom.cdx.json").read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(min_value=0, max_value=1 << 16),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 16), st.integers(0, 255)), max_size=8),
    tail=st.sampled_from(
        [b"", b"\x00" * 64, b"{" * 5000, b"[" * 200_000, b'"timestamp":"9999-99-99T99:99:99Z"', b"\xff\xfe"]
    ),
)
def test_hostile_existing_bom_is_regenerated(
    tmp_path_factory: pytest.TempPathFactory, valid_bom: bytes, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    """A truncated, corrupted or nesting-bomb BOM is replaced by a valid one; the run after that is clean."""
    root = _tree(tmp_path_factory.mktemp("hostile") / "p")
    data = bytearray(valid_bom[: cut % (len(valid_bom) + 1)])
    for offset, value in flips:
        if data:
            data[offset % len(data)] = value
    (root / "bom.cdx.json").write_bytes(bytes(data) + tail)
    status, _ = _bom(root)
    assert status in (0, 1)
    doc = json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] in ("1.6", "1.7")
    assert _bom(root) == (0, "")
