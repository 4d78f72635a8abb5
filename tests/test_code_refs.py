"""Hub models and datasets referenced by Python code and notebooks, found without running anything."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import scan_bom

from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe

from conftest import findings_of, prop

SOURCE = """\
import torch
from datasets import load_dataset
from huggingface_hub import hf_hub_download, snapshot_download
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

MODEL = "distilbert/distilbert-base-uncased"
tok = AutoTokenizer.from_pretrained("distilbert/distilbert-base-uncased", revision="6cdc0aa")
model = AutoModelForSequenceClassification.from_pretrained(MODEL)  # a variable: not resolved
clf = pipeline("text-classification", model="cardiffnlp/twitter-roberta-base-sentiment")
imdb = load_dataset("stanfordnlp/imdb", split="train")
local_csv = load_dataset("csv", data_files="data/train.csv")
mine = AutoModelForSequenceClassification.from_pretrained("models/sentiment-tiny")
cfg = hf_hub_download(repo_id="acme/eval-set", filename="test.jsonl", repo_type="dataset")
snap = snapshot_download("meta-llama/Llama-3.1-8B")
emb = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
resnet = torch.hub.load("pytorch/vision:v0.10.0", "resnet18", pretrained=True)
"""

CELL1 = ["!pip install transformers\n", "%matplotlib inline\n", "from datasets import load_dataset\n",
         'ds = load_dataset("stanfordnlp/imdb")']  # fmt: skip
CELL2 = "from transformers import AutoModel\n\nm = AutoModel.from_pretrained('google-bert/bert-base-cased')\n"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tune\n", 'from_pretrained("not/code")']},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": CELL1},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [], "source": CELL2},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def refs(bom: dict) -> dict[str, dict]:
    return {c["bom-ref"]: c for c in bom["components"] if prop(c, "aibom:external") == "true"}


def test_python_source_references(tmp_path: Path) -> None:
    (tmp_path / "models" / "sentiment-tiny").mkdir(parents=True)
    (tmp_path / "train.py").write_text(SOURCE, encoding="utf-8")
    (tmp_path / "LICENSE").write_text("SPDX-License-Identifier: MIT\n", encoding="utf-8")
    bom = scan_bom(tmp_path)
    found = refs(bom)
    assert all("licenses" not in c for c in found.values())  # the project's license does not cover them
    assert sorted(found) == [
        "hf:cardiffnlp/twitter-roberta-base-sentiment",
        "hf:datasets/acme/eval-set",
        "hf:datasets/stanfordnlp/imdb",
        "hf:distilbert/distilbert-base-uncased",
        "hf:meta-llama/Llama-3.1-8B",
        "hf:sentence-transformers/all-MiniLM-L6-v2",
        "torch-hub:pytorch/vision:v0.10.0#resnet18",
    ]
    tok = found["hf:distilbert/distilbert-base-uncased"]
    assert tok["type"] == "machine-learning-model"
    assert tok["evidence"]["occurrences"] == [{"location": "train.py", "line": 8, "symbol": "from_pretrained"}]
    assert prop(tok, "aibom:reference:revision") == "6cdc0aa"
    assert prop(tok, "aibom:provenance:huggingface") == "https://huggingface.co/distilbert/distilbert-base-uncased"
    imdb = found["hf:datasets/stanfordnlp/imdb"]
    assert imdb["type"] == "data"
    assert prop(imdb, "aibom:dataset:id") == "stanfordnlp/imdb"
    assert prop(imdb, "aibom:provenance:huggingface") == "https://huggingface.co/datasets/stanfordnlp/imdb"
    assert imdb["evidence"]["occurrences"][0]["line"] == 11
    torch_hub = found["torch-hub:pytorch/vision:v0.10.0#resnet18"]
    assert prop(torch_hub, "aibom:provenance:torch-hub") == "https://github.com/pytorch/vision"
    root = next(d for d in bom["dependencies"] if d["ref"] == "aibom:root")
    assert set(found) <= set(root["dependsOn"])


def test_notebook_references_and_shared_components(tmp_path: Path) -> None:
    (tmp_path / "explore.ipynb").write_text(json.dumps(NOTEBOOK, indent=1), encoding="utf-8")
    (tmp_path / "load.py").write_text('from datasets import load_dataset\nload_dataset("stanfordnlp/imdb")\n')
    found = refs(scan_bom(tmp_path))
    assert sorted(found) == ["hf:datasets/stanfordnlp/imdb", "hf:google-bert/bert-base-cased"]
    occurrences = found["hf:datasets/stanfordnlp/imdb"]["evidence"]["occurrences"]
    assert sorted((o["location"], o["line"], o.get("symbol")) for o in occurrences) == [
        ("explore.ipynb", 4, "cell 1"),
        ("load.py", 2, "load_dataset"),
    ]
    bert = found["hf:google-bert/bert-base-cased"]["evidence"]["occurrences"]
    assert bert == [{"location": "explore.ipynb", "line": 3, "symbol": "cell 2"}]


def test_unparsable_code_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_text("print 'python 2'\nm = AutoModel.from_pretrained('a/b')\n", encoding="utf-8")
    (tmp_path / "deep.py").write_text("import torch.hub\nx = " + "(" * 100_000 + ")" * 100_000 + "\n", "utf-8")
    # Code that names no recognised call cannot reference anything: it is not parsed, so not reported.
    (tmp_path / "plain_py2.py").write_text("print 'python 2'\n", encoding="utf-8")
    found = sorted((f["location"], f["severity"], f["category"]) for f in findings_of(scan_bom(tmp_path)))
    assert found == [("deep.py", "info", "unreadable"), ("old.py", "info", "unreadable")]


def test_identifiers_spelt_with_compatibility_characters_are_still_found(tmp_path: Path) -> None:
    """Python reads `ｆｒｏｍ_pretrained` (fullwidth letters) as `from_pretrained`: such source is parsed."""
    source = 'from transformers import AutoModel\nm = AutoModel.\uff46\uff52\uff4f\uff4d_pretrained("org/name")\n'
    assert not source.isascii() and "from_pretrained" not in source
    found = [a.name for a in scan_text(tmp_path, "wide.py", source).artifacts]
    assert found == ["org/name"]


_CALLEES = ["AutoModel.from_pretrained", "from_pretrained", "pipeline", "transformers.pipeline", "load_dataset",
            "hf_hub_download", "snapshot_download", "SentenceTransformer", "torch.hub.load", "hub.load",
            "torch.hub . load", "(torch.hub).load", "load", "torch.load", "AutoModel.\uff46rom_pretrained",
            "pipe\u217cine", "json.load", "x.y"]  # fmt: skip
_ARGS = ['"org/name"', '"owner/repo:v1", "model"', 'model="org/name"', "repo_id='org/data', repo_type='dataset'",
         '"text-classification", "org/name"', "path='org/ds'", "MODEL"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_CALLEES), st.sampled_from(_ARGS)), max_size=4), st.text(max_size=20))
def test_code_is_skipped_only_when_it_references_nothing(calls: list[tuple[str, str]], noise: str) -> None:
    """The filter that spares most code the parser never hides a reference the parser would find."""
    import ast

    from aibom.scanners.code_refs import may_reference, references

    source = "\n".join(f"v{i} = {callee}({args})" for i, (callee, args) in enumerate(calls))
    source += "\n# " + noise.replace("\n", " ").replace("\r", " ")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    if references(tree):
        assert may_reference(source), source


def scan_text(tmp_path: Path, name: str, text: str) -> ScanOutput:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    probe, _ = Probe.from_file(name, str(path), str(tmp_path))
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["a.py", "b.ipynb"]), st.integers(0, 3000), st.text(max_size=8), st.integers(0, 3000))
def test_mutated_code_never_raises(tmp_path: Path, name: str, at: int, junk: str, cut: int) -> None:
    text = SOURCE if name == "a.py" else json.dumps(NOTEBOOK)
    at %= len(text) + 1
    mutated = (text[:at] + junk + text[at:])[: cut or None]
    start = time.monotonic()
    scan_text(tmp_path, name, mutated.encode("utf-8", "replace").decode("utf-8"))
    assert time.monotonic() - start < 2.0
