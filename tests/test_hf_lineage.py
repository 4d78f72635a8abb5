"""Lineage as one graph: GGUF base-model headers, local dataset matching, and every BOM output valid."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from hf_fixtures import by_ref, depends_on, save_sharded, save_single, scan, tiny_state_dict, write_card, write_json

from aibom.bom.formats import render
from aibom.inventory import Artifact, Evidence, Inventory, Kind, ModelDirFile, ModelInfo
from aibom.lineage import DATASET_HUB_ID, match_dataset
from aibom.link import link


def _gguf(location: str, props: dict[str, str]) -> Artifact:
    """A GGUF model artifact as the GGUF scanner records it (its base-model keys as properties)."""
    return Artifact(
        kind=Kind.MODEL,
        name=location.rsplit("/", 1)[-1],
        ref=f"path:{location}",
        format="gguf",
        sha256="0" * 64,
        evidence=[Evidence(location)],
        model=ModelInfo(
            parameter_count=10,
            architecture_family="llama",
            properties={"cdx:ai-ml:model:quantization": "Q4_K_M"},
        ),
        properties=props,
    )


def test_gguf_base_models_join_the_graph() -> None:
    inv = Inventory(root_name="r")
    inv.artifacts.append(
        _gguf(
            "llm.Q4_K_M.gguf",
            {
                "aibom:gguf:base_model.0.repo_url": "https://huggingface.co/meta-llama/Llama-3.1-8B",
                "aibom:gguf:base_model.0.name": "Llama 3.1 8B",
                "aibom:gguf:base_model.0.organization": "Meta Llama",
                "aibom:gguf:base_model.1.name": "Secret Base",
                "aibom:gguf:base_model.1.organization": "Acme",
            },
        )
    )
    inv.artifacts.append(_gguf("other.gguf", {"aibom:gguf:base_model.0.repo_url": "meta-llama/Llama-3.1-8B"}))
    link(inv)
    gguf = inv.artifacts[0]
    assert gguf.ancestors == ["hf:model:meta-llama/Llama-3.1-8B", "named-model:Acme/Secret Base"]
    assert gguf.depends_on == gguf.ancestors
    assert inv.artifacts[1].ancestors == ["hf:model:meta-llama/Llama-3.1-8B"]  # one shared base component
    externals = {a.ref: a for a in inv.artifacts if a.external}
    assert sorted(externals) == ["hf:model:meta-llama/Llama-3.1-8B", "named-model:Acme/Secret Base"]
    assert externals["hf:model:meta-llama/Llama-3.1-8B"].purl == "pkg:huggingface/meta-llama/Llama-3.1-8B"
    assert externals["named-model:Acme/Secret Base"].purl is None
    bom = json.loads(render(inv))
    assert depends_on(bom, "path:llm.Q4_K_M.gguf") == [
        "hf:model:meta-llama/Llama-3.1-8B",
        "named-model:Acme/Secret Base",
    ]
    assert {"type": "machine-learning-model", "name": "Acme/Secret Base"} in by_ref(bom, "path:llm.Q4_K_M.gguf")[
        "pedigree"
    ]["ancestors"]


def test_gguf_in_a_model_directory_lends_its_base_to_the_directory(tmp_path: Path) -> None:
    inv = Inventory(root_name="r")
    inv.artifacts.append(_gguf("q/model.gguf", {"aibom:gguf:base_model.0.repo_url": "https://huggingface.co/a/b"}))
    card = Artifact(kind=Kind.FILE, name="README.md", ref="path:q/README.md", evidence=[Evidence("q/README.md")])
    card.model_dir_file = ModelDirFile("card", {"licenses": ["mit"], "model_keys": ["pipeline_tag"]})
    inv.artifacts.append(card)
    link(inv)
    (model,) = [a for a in inv.artifacts if a.ref == "model-dir:q"]
    assert [p.ref for p in model.parts] == ["path:q/README.md", "path:q/model.gguf"]
    assert model.ancestors == ["hf:model:a/b"]
    assert model.model is not None and model.model.parameter_count == 10
    # what the single GGUF's header says fills what the card leaves open
    assert model.model.architecture_family == "llama"
    assert model.model.properties["cdx:ai-ml:model:quantization"] == "Q4_K_M"


def test_card_dataset_matches_a_local_dataset() -> None:
    local = Artifact(
        kind=Kind.DATASET,
        name="reviews",
        ref="dataset:data/reviews",
        evidence=[Evidence("data/reviews/train.csv")],
        properties={DATASET_HUB_ID: "Acme/Reviews"},
    )
    by_folder = Artifact(
        kind=Kind.DATASET, name="x", ref="dataset:data/movie-reviews", evidence=[Evidence("data/movie-reviews/a.csv")]
    )
    assert match_dataset("acme/reviews", [local, by_folder]) is local
    assert match_dataset("movie-reviews", [local, by_folder]) is by_folder
    assert match_dataset("someone/movie-reviews", [local, by_folder]) is by_folder
    assert match_dataset("imdb", [local, by_folder]) is None

    inv = Inventory(root_name="r")
    card = Artifact(kind=Kind.FILE, name="README.md", ref="path:m/README.md", evidence=[Evidence("m/README.md")])
    card.model_dir_file = ModelDirFile("card", {"datasets": ["acme/reviews", "imdb"], "model_keys": ["datasets"]})
    inv.artifacts += [card, local]
    link(inv)
    (model,) = [a for a in inv.artifacts if a.ref == "model-dir:m"]
    assert model.model is not None
    assert model.model.datasets == ["dataset:data/reviews", "hf:dataset:imdb"]
    assert model.depends_on == ["dataset:data/reviews", "hf:dataset:imdb"]
    assert sorted(a.ref for a in inv.artifacts if a.external) == ["hf:dataset:imdb"]


@pytest.mark.parametrize("spec", ["1.6", "1.7"])
@pytest.mark.parametrize("fmt", ["cyclonedx-json", "cyclonedx-xml"])
def test_every_output_validates(tmp_path: Path, fmt: str, spec: str) -> None:
    folder = tmp_path / "m"
    save_sharded(folder, tiny_state_dict(), max_shard_size=40)
    write_json(folder / "config.json", {"model_type": "x", "architectures": ["X"], "auto_map": {"AutoModel": "a.B"}})
    write_card(
        folder,
        """
license: mit
pipeline_tag: text-generation
datasets: [acme/d1, d2]
base_model: [acme/base]
model-index:
- name: m
  results:
  - dataset: {name: D1}
    metrics: [{type: accuracy, value: 0.5}]
""",
    )
    (folder / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    save_single(tmp_path / "adapter", tiny_state_dict(), "adapter_model.safetensors")
    write_json(tmp_path / "adapter" / "adapter_config.json", {"peft_type": "LORA", "base_model_name_or_path": "../m"})
    out = scan(tmp_path, fmt, spec)  # render() validates against the official schema and raises if invalid
    if fmt == "cyclonedx-json":
        model = by_ref(out, "model-dir:m")
        assert model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"] == [
            {"type": "accuracy", "value": "0.5", "slice": "D1"}
        ]
        assert depends_on(out, "model-dir:adapter") == ["model-dir:m"]
    else:
        root = ET.fromstring(out)
        ns = {"c": root.tag[1:].split("}")[0]}
        assert root.find(".//c:performanceMetric/c:value", ns).text == "0.5"  # type: ignore[union-attr]
        assert [r.text for r in root.findall(".//c:modelParameters/c:datasets/c:ref", ns)] == [
            "hf:dataset:acme/d1",
            "hf:dataset:d2",
        ]
        assert root.find(".//c:pedigree/c:ancestors/c:component/c:purl", ns).text == "pkg:huggingface/acme/base"  # type: ignore[union-attr]
