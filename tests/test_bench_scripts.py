"""Smoke test of the one-run benchmark (issue 8): the generator and run_all.py work end to end at a tiny scale."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
ROWS = [
    *("a1", "a2", "b", "c", "d1", "d10", "d100", "d1000", "e1", "e2"),
    *(f"f-{t}" for t in ("aibom", "picklescan", "modelscan", "fickling", "modelaudit")),
    *("g-aibom", "g-cyclonedx-py"),
]


def bench(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_generator_and_run_all_at_tiny_scale(tmp_path: Path) -> None:
    project = tmp_path / "project"
    made = bench("make_project.py", str(project), "--scale", "0.002")
    assert made.returncode == 0, made.stderr
    manifest = json.loads((project / ".bench-manifest.json").read_text())
    files = [p for p in project.rglob("*") if p.is_file()]
    assert len(files) == manifest["files"] == 172
    assert len(manifest["pickles"]["malicious"]) == 1 and len(manifest["pickles"]["benign"]) == 9
    assert len(list(project.glob("datasets/images/*/*/*/img_*"))) == 40
    # sparse shards: the tensor table ends exactly at the end of the file
    for rel in manifest["big_files"]:
        path = project / rel
        if path.suffix == ".safetensors":
            raw = path.read_bytes()[:8]
            (n,) = struct.unpack("<Q", raw)
            header = json.loads(path.read_bytes()[8 : 8 + n])
            end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
            assert 8 + n + end == path.stat().st_size
    index = json.loads((project / "models/visionlab-llm-7b/model.safetensors.index.json").read_text())
    shards = sorted(project.glob("models/visionlab-llm-7b/*.safetensors"))
    assert len(shards) == 3 and set(index["weight_map"].values()) == {p.name for p in shards}
    assert (project / manifest["parquet"]).read_bytes()[:4] == b"PAR1"
    again = bench("make_project.py", str(tmp_path / "again"), "--scale", "0.002")
    assert again.returncode == 0, again.stderr
    for rel in ("src/visionlab/sub000/mod_00000.py", manifest["pickles"]["malicious"][0], manifest["parquet"]):
        assert (project / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes()  # seeded: same bytes

    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\n## Many repositories\n\nother section\n")
    ran = bench("run_all.py", str(project), "--out", str(out), "--meta-reps", "3", "--no-profile")
    assert ran.returncode == 0, ran.stderr
    text = out.read_text()
    assert text.index("## Many repositories") < text.index("## One-run benchmark (issue 8)")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| row | run |")) + 2
    table = lines[start : lines.index("", start)]
    assert [line.split(" | ")[0][2:] for line in table] == ROWS
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in table}
    assert rows["f-aibom"][-1].startswith("caught 1/1, benign flagged 0/9")
    assert rows["f-picklescan"][-1].startswith("not run (needs --peers)")
    assert rows["e1"][6] == "PASS"  # safetensors metadata of 10 GiB in < 10 ms
    assert "`aibom validate`: valid" in rows["g-aibom"][-1]
    assert rows["b"][-1].startswith("85 hashed, 0 from cache")
    assert rows["c"][-1].startswith("0 hashed, 85 from cache")
    assert "aibom hashes 85 files" in text

    bad = bench("run_all.py", str(tmp_path))
    assert bad.returncode == 2 and "bench-manifest.json" in bad.stderr.strip().splitlines()[-1]
