"""Builders for Hugging Face-style model directories, written with the real safetensors library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from huggingface_hub import split_state_dict_into_shards_factory
from safetensors.numpy import save_file

from aibom.bom.formats import render
from aibom.pipeline import ScanOptions, scan_tree


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def write_card(folder: Path, front_matter: str, body: str = "# Model\n\nA test model.\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "README.md"
    path.write_text(f"---\n{front_matter.strip()}\n---\n\n{body}", encoding="utf-8")
    return path


def tiny_state_dict(dtype: str = "float16") -> dict[str, np.ndarray]:
    """Three tensors: 4*8 + 8 + 8*2 = 56 parameters."""
    rng = np.random.default_rng(0)
    return {
        "encoder.weight": rng.standard_normal((4, 8)).astype(dtype),
        "encoder.bias": np.zeros(8, dtype=dtype),
        "head.weight": rng.standard_normal((8, 2)).astype(dtype),
    }


def save_single(folder: Path, tensors: dict[str, np.ndarray], name: str = "model.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / name), metadata={"format": "pt"})
    return folder / name


def save_sharded(folder: Path, tensors: dict[str, np.ndarray], max_shard_size: int) -> dict[str, Any]:
    """Shard like `huggingface_hub.save_torch_state_dict`: the library splits, we write shards and index."""
    folder.mkdir(parents=True, exist_ok=True)
    split = split_state_dict_into_shards_factory(
        tensors,
        get_storage_size=lambda t: t.nbytes,
        filename_pattern="model{suffix}.safetensors",
        max_shard_size=max_shard_size,
    )
    for filename, names in split.filename_to_tensors.items():
        save_file({n: tensors[n] for n in names}, str(folder / filename), metadata={"format": "pt"})
    index = {"metadata": dict(split.metadata), "weight_map": split.tensor_to_filename}
    write_json(folder / "model.safetensors.index.json", index)
    return index


def scan(root: Path, fmt: str = "cyclonedx-json", spec: str = "1.6") -> Any:
    """Scan in-process (faster than the CLI) and return the parsed JSON BOM, or the XML text."""
    text = render(scan_tree(root, ScanOptions(use_cache=False)), fmt, spec)
    return json.loads(text) if fmt == "cyclonedx-json" else text


def cli_scan(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`python -m aibom scan ROOT -q ARGS` as a user runs it; the BOM text (asserting exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-m", "aibom", "scan", str(root), "-q", *args],
        env=dict(os.environ) | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def by_ref(bom: dict[str, Any], ref: str) -> dict[str, Any]:
    for comp in bom.get("components", []):
        if comp["bom-ref"] == ref:
            return comp
    raise AssertionError(f"no component {ref}; have {[c['bom-ref'] for c in bom.get('components', [])]}")


def depends_on(bom: dict[str, Any], ref: str) -> list[str]:
    for dep in bom.get("dependencies", []):
        if dep["ref"] == ref:
            return dep.get("dependsOn", [])
    raise AssertionError(f"no dependency entry for {ref}")


def card_props(comp: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in comp.get("modelCard", {}).get("properties", [])}


def props(comp: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in comp.get("properties", []) if p["name"] != "aibom:finding"}


def findings(comp: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(p["value"]) for p in comp.get("properties", []) if p["name"] == "aibom:finding"]
