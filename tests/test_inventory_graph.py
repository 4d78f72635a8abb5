"""A realistic project: datasets with a card, a lock file, an in-tree venv, code loading hub models."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from inprocess import scan_bom
from test_datasets import CARD
from test_dependencies import UV_LOCK, make_venv, make_wheel


def test_one_connected_graph(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "data" / "reviews").mkdir(parents=True)
    (root / "data" / "reviews" / "README.md").write_text(CARD, encoding="utf-8")
    pq.write_table(pa.table({"text": ["a", "b"], "label": [0, 1]}), root / "data" / "reviews" / "train.parquet")
    (root / "uv.lock").write_text(UV_LOCK, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nlicense = "MIT"\ndependencies = ["httpx>=0.27"]\n', encoding="utf-8"
    )
    wheel = make_wheel(tmp_path, "httpx", "0.27.0", ["License-Expression: BSD-3-Clause", "Requires-Dist: idna"])
    make_venv(root / ".venv", [wheel, make_wheel(tmp_path, "idna", "3.7", ["License-Expression: BSD-3-Clause"])])
    (root / "app.py").write_text(
        'from transformers import pipeline\nclf = pipeline("text-classification", model="org/sentiment")\n',
        encoding="utf-8",
    )
    bom = scan_bom(root)
    edges = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    reachable, stack = set(), ["aibom:root"]
    while stack:
        ref = stack.pop()
        if ref not in reachable:
            reachable.add(ref)
            stack.extend(edges.get(ref, []))
    refs = {c["bom-ref"] for c in bom["components"]}
    assert refs - reachable == set()
    assert refs == {
        "dataset:data/reviews",
        "path:data/reviews/train.parquet",
        "pkg:pypi/anyio@4.4.0",
        "pkg:pypi/httpx@0.27.0",
        "pkg:pypi/idna@3.7",
        "pkg:pypi/pytest@8.2.2",
        "pkg:pypi/rich@13.7.1",
        "pkg:pypi/sniffio@1.3.1",
        "hf:org/sentiment",
    }
    httpx = next(c for c in bom["components"] if c["bom-ref"] == "pkg:pypi/httpx@0.27.0")
    assert httpx["licenses"] == [{"license": {"id": "BSD-3-Clause", "acknowledgement": "declared"}}]
    assert edges["pkg:pypi/httpx@0.27.0"] == ["pkg:pypi/anyio@4.4.0", "pkg:pypi/idna@3.7"]
    assert bom["metadata"]["component"]["licenses"] == [{"license": {"id": "MIT", "acknowledgement": "declared"}}]


def test_a_concluded_license_copies_every_field_but_the_acknowledgement() -> None:
    """`as_concluded` spells out License's fields: a field added later and not copied fails here."""
    import dataclasses

    from aibom.inventory import License

    values = {f.name: f"value-{f.name}" for f in dataclasses.fields(License)}
    lic = License(**values)
    copy = lic.as_concluded()
    assert copy == dataclasses.replace(lic, acknowledgement="concluded")
    assert copy is not lic and lic.acknowledgement == "value-acknowledgement"
