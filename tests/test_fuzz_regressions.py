"""Crash inputs found by the atheris harness stay fixed, the harness itself cannot rot, and every
parser family gets hypothesis inputs through the same harness: mutations of valid seed files made by
the real libraries, and random bytes under every file name (behind each format's magic, too).

Regression inputs live in tests/fuzz/regressions/ as TARGET-description files (a fuzz input: one
name-choosing byte, then the content). The harness runs them exactly as it runs fuzz inputs.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from direct_scan import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))

from fuzz_parsers import Harness  # noqa: E402
from targets import TARGETS, split_input  # noqa: E402

REGRESSIONS = sorted((FUZZ / "regressions").iterdir())


@functools.cache
def harness(target: str) -> Harness:
    """One harness (scratch folder, removed at exit) per target for the whole session."""
    return Harness(target, seconds=5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    proc = subprocess.run(
        [sys.executable, str(FUZZ / "make_corpus.py"), str(out)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_regression_input_ends_as_result_or_finding(path: Path) -> None:
    target = path.name.split("-", 1)[0]
    harness(target)(path.read_bytes())  # raises on any escaping exception or timeout


def test_legacy_torch_with_unhashable_storage_key_is_unreadable(tmp_path: Path) -> None:
    from direct_scan import is_unreadable, scan_file

    name, content = split_input("pickle", (FUZZ / "regressions" / "pickle-legacy-unhashable-storage-key").read_bytes())
    (tmp_path / name).write_bytes(content)
    fmt, out = scan_file(tmp_path / name)
    assert fmt == "pytorch-legacy" or is_unreadable(out)
    assert any("storage keys do not match" in f.message for f in out.findings), out.findings


def test_every_target_runs_its_seeds(corpus: Path) -> None:
    """Every family's valid seeds go through the harness cleanly (the seeds are real library output)."""
    assert sorted(p.name for p in corpus.iterdir()) == sorted(TARGETS)
    for target in TARGETS:
        seeds = sorted((corpus / target).iterdir())
        assert seeds, target
        for seed in seeds:
            harness(target)(seed.read_bytes())


def test_harness_fuzzes_every_family_for_real(corpus: Path, tmp_path: Path) -> None:
    """A short real libFuzzer run of target `all` (every family in one process): it must end cleanly."""
    runs = 1000
    proc = subprocess.run(
        [
            sys.executable,
            str(FUZZ / "fuzz_parsers.py"),
            "all",
            str(corpus / "all"),
            f"-runs={runs}",
            "-max_len=8192",
            "-seed=1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "0", "AIBOM_FUZZ_SCRATCH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Done {runs} runs" in proc.stderr, proc.stderr[-2000:]


def test_unknown_target_is_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, str(FUZZ / "fuzz_parsers.py"), "nope"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "targets:" in proc.stderr and "pickle" in proc.stderr


def test_bom_xml_syntax_error_is_one_line(tmp_path: Path) -> None:
    from aibom.bom.read import BomReadError, read_bom

    name, content = split_input("bom", (FUZZ / "regressions" / "bom-xml-error-message-with-newline").read_bytes())
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BomReadError) as info:
        read_bom(tmp_path / name)
    assert "not valid XML: Invalid character: Char 0x0 out of allowed range" in str(info.value)
    assert "\n" not in str(info.value)


#: The magic prefixes the sniffer keys on, so random tails reach the parsers behind them.
MAGICS = [
    b"",
    b"GGUF\x03\x00\x00\x00",
    b"\x80\x02",
    b"\x80\x04\x95",
    b"PK\x03\x04",
    b"\x1f\x8b\x08",
    b"\x89HDF\r\n\x1a\n",
    b"\x93NUMPY\x01\x00",
    b"PAR1",
    b"ARROW1\x00\x00",
    b"\xff\xff\xff\xff",
    b"TFL3",
    b"7z\xbc\xaf\x27\x1c",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"---\nlicense: ",
    b"version https://git-lfs.github.com/spec/v1\noid sha256:",
    b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [',
    b"<?xml version='1.0'?><bom xmlns='http://cyclonedx.org/schema/bom/1.6'>",
]


@pytest.fixture(scope="module")
def seeds(corpus: Path) -> list[tuple[str, bytes]]:
    return [(t, p.read_bytes()) for t in sorted(TARGETS) if t != "all" for p in sorted((corpus / t).iterdir())]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_seeds_of_every_family(seeds: list[tuple[str, bytes]], data: st.DataObject) -> None:
    target, seed = data.draw(st.sampled_from(seeds))
    harness(target)(seed[:1] + mutate(data, seed[1:]))


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(TARGETS["all"]), magic=st.sampled_from(MAGICS), tail=st.binary(max_size=600))
def test_random_bytes_under_every_name(name: str, magic: bytes, tail: bytes) -> None:
    harness("all")(bytes([TARGETS["all"].index(name)]) + magic + tail)
