"""Hugging Face model directories: one model per folder, its parts, facts, lineage and licenses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from hf_fixtures import (
    by_ref,
    card_props,
    cli_scan,
    depends_on,
    findings,
    props,
    save_sharded,
    save_single,
    scan,
    tiny_state_dict,
    write_card,
    write_json,
)

CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
APACHE_TEXT = "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n"


def make_llm_dir(folder: Path) -> None:
    save_single(folder, tiny_state_dict())
    write_json(
        folder / "config.json",
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "torch_dtype": "float16",
            "max_position_embeddings": 2048,
            "transformers_version": "4.44.0",
        },
    )
    write_json(folder / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})
    write_json(folder / "tokenizer.json", {"version": "1.0", "model": {"type": "BPE", "vocab": {}}})
    write_json(folder / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer", "chat_template": CHAT_TEMPLATE})
    write_card(
        folder,
        """
license: apache-2.0
pipeline_tag: text-generation
library_name: transformers
language: [en, fr]
tags: [tiny, test]
datasets:
- acme/web-text
base_model: acme/base-7b
base_model_relation: finetune
""",
    )


def test_single_file_directory_is_one_model(tmp_path: Path) -> None:
    make_llm_dir(tmp_path / "models" / "tiny-llm")
    bom = scan(tmp_path)
    models = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert sorted(c["bom-ref"] for c in models) == ["hf:model:acme/base-7b", "model-dir:models/tiny-llm"]
    model = by_ref(bom, "model-dir:models/tiny-llm")
    assert model["name"] == "tiny-llm"
    assert "hashes" not in model  # the directory has no bytes of its own; each part is hashed
    parts = {c["bom-ref"]: c for c in model["components"]}
    names = ["README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json"]
    names.append("tokenizer_config.json")
    assert sorted(parts) == [f"path:models/tiny-llm/{n}" for n in sorted(names)]
    for ref, part in parts.items():
        assert part["type"] == "file"
        assert part["evidence"]["occurrences"] == [{"location": ref.removeprefix("path:")}]
        data = (tmp_path / ref.removeprefix("path:")).read_bytes()
        assert part["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(data).hexdigest()}]
    weights = parts["path:models/tiny-llm/model.safetensors"]
    assert props(weights)["aibom:model:parameter:count"] == "56"
    assert sorted(o["location"] for o in model["evidence"]["occurrences"]) == sorted(
        f"models/tiny-llm/{n}" for n in names
    )
    card = model["modelCard"]
    assert card["modelParameters"] == {
        "task": "text-generation",
        "architectureFamily": "llama",
        "modelArchitecture": "LlamaForCausalLM",
        "datasets": [{"ref": "hf:dataset:acme/web-text"}],
        "inputs": [{"format": "text"}],  # what text-generation takes and gives
        "outputs": [{"format": "text"}],
    }
    cp = card_props(model)
    assert cp["cdx:ai-ml:model:parameter:count"] == "56"
    assert cp["cdx:ai-ml:model:tensor:count"] == "3"
    assert cp["cdx:ai-ml:model:dtype"] == "F16"
    assert cp["cdx:ai-ml:model:config:dtype"] == "float16"
    assert cp["cdx:ai-ml:model:context:length"] == "2048"
    assert cp["cdx:ai-ml:model:library"] == "transformers"
    assert cp["cdx:ai-ml:model:language"] == "en,fr"
    assert cp["cdx:ai-ml:model:base-model:relation"] == "finetune"
    assert cp["cdx:ai-ml:model:chat-template:sha256"] == hashlib.sha256(CHAT_TEMPLATE.encode()).hexdigest()
    assert cp["cdx:ai-ml:model:weights:format"] == "safetensors"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0", "acknowledgement": "declared"}}]
    assert model["externalReferences"] == [
        {"type": "model-card", "url": "models/tiny-llm/README.md", "comment": "model card in the scanned tree"}
    ]
    # lineage: base model as pedigree ancestor and dependency; dataset as an external data component
    ancestor = {"type": "machine-learning-model", "name": "acme/base-7b", "purl": "pkg:huggingface/acme/base-7b"}
    assert model["pedigree"] == {"ancestors": [ancestor]}
    assert depends_on(bom, "model-dir:models/tiny-llm") == ["hf:dataset:acme/web-text", "hf:model:acme/base-7b"]
    base = by_ref(bom, "hf:model:acme/base-7b")
    assert base["purl"] == "pkg:huggingface/acme/base-7b"
    assert props(base)["aibom:external"] == "true"
    assert base["externalReferences"] == [{"type": "website", "url": "https://huggingface.co/acme/base-7b"}]
    data = by_ref(bom, "hf:dataset:acme/web-text")
    assert data["type"] == "data"
    assert data["purl"] == "pkg:huggingface/acme/web-text?repository_url=https://huggingface.co/datasets"
    assert data["data"] == [
        {
            "type": "dataset",
            "name": "acme/web-text",
            "contents": {"url": "https://huggingface.co/datasets/acme/web-text"},
        }
    ]
    root_deps = depends_on(bom, "aibom:root")
    assert "model-dir:models/tiny-llm" in root_deps
    assert "hf:model:acme/base-7b" not in root_deps
    assert [f for c in bom["components"] for f in findings(c)] == []


def test_sharded_checkpoint_sums_shards_and_checks_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors = {f"layer{i}.weight": rng.standard_normal((16, 16)).astype("float32") for i in range(4)}
    tensors["norm.weight"] = np.ones(16, dtype="float32")
    folder = tmp_path / "big"
    index = save_sharded(folder, tensors, max_shard_size=2100)
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) == 3
    assert index["metadata"]["total_size"] == (4 * 256 + 16) * 4
    write_json(folder / "config.json", {"architectures": ["BigModel"], "model_type": "big"})
    bom = scan(tmp_path)
    model = by_ref(bom, "model-dir:big")
    cp = card_props(model)
    assert cp["cdx:ai-ml:model:parameter:count"] == str(4 * 256 + 16)
    assert cp["cdx:ai-ml:model:tensor:count"] == "5"
    assert cp["cdx:ai-ml:model:weights:files"] == "3"
    assert cp["cdx:ai-ml:model:weights:sharded"] == "true"
    assert sorted(c["bom-ref"] for c in model["components"]) == sorted(
        [f"path:big/{s}" for s in shards] + ["path:big/config.json", "path:big/model.safetensors.index.json"]
    )
    assert findings(model) == []

    # total_size that does not match the shards' headers
    index["metadata"]["total_size"] += 4
    write_json(folder / "model.safetensors.index.json", index)
    model = by_ref(scan(tmp_path), "model-dir:big")
    (f,) = findings(model)
    assert (f["rule"], f["category"], f["severity"]) == ("shard-size-mismatch", "integrity", "warning")
    assert f["location"] == "big/model.safetensors.index.json"
    assert str((4 * 256 + 16) * 4) in f["message"]

    # a shard the index names is missing: an error, and no parameter count is claimed
    index["metadata"]["total_size"] -= 4
    write_json(folder / "model.safetensors.index.json", index)
    (folder / shards[1]).unlink()
    model = by_ref(scan(tmp_path), "model-dir:big")
    (f,) = findings(model)
    assert (f["rule"], f["category"], f["severity"]) == ("shard-missing", "integrity", "error")
    assert shards[1] in f["message"]
    assert "cdx:ai-ml:model:parameter:count" not in card_props(model)


def test_peft_adapter_with_local_and_hub_base(tmp_path: Path) -> None:
    save_single(tmp_path / "base", tiny_state_dict("float32"))
    write_json(tmp_path / "base" / "config.json", {"architectures": ["TinyLM"], "model_type": "tiny"})
    rng = np.random.default_rng(2)
    lora = {
        "base_model.model.encoder.lora_A.weight": rng.standard_normal((2, 4)).astype("float32"),
        "base_model.model.encoder.lora_B.weight": np.zeros((8, 2), dtype="float32"),
    }
    adapter = tmp_path / "adapter"
    save_single(adapter, lora, "adapter_model.safetensors")
    write_json(
        adapter / "adapter_config.json",
        {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": "../base",
            "r": 2,
            "lora_alpha": 16,
            "target_modules": ["encoder"],
        },
    )
    bom = scan(tmp_path)
    model = by_ref(bom, "model-dir:adapter")
    assert props(model)["aibom:format"] == "peft-adapter"
    cp = card_props(model)
    assert cp["cdx:ai-ml:model:parameter:count"] == "24"
    assert cp["cdx:ai-ml:model:adapter:type"] == "LORA"
    assert cp["cdx:ai-ml:model:adapter:rank"] == "2"
    assert cp["cdx:ai-ml:model:adapter:alpha"] == "16"
    assert cp["cdx:ai-ml:model:adapter:target-modules"] == "encoder"
    assert model["pedigree"] == {"ancestors": [{"type": "machine-learning-model", "name": "base"}]}
    assert depends_on(bom, "model-dir:adapter") == ["model-dir:base"]
    assert card_props(by_ref(bom, "model-dir:base"))["cdx:ai-ml:model:parameter:count"] == "56"

    # a Hub id as base: an external model with a purl
    cfg = (adapter / "adapter_config.json").read_text().replace("../base", "acme/Base-1B")
    (adapter / "adapter_config.json").write_text(cfg)
    bom = scan(tmp_path)
    assert depends_on(bom, "model-dir:adapter") == ["hf:model:acme/Base-1B"]
    assert by_ref(bom, "hf:model:acme/Base-1B")["purl"] == "pkg:huggingface/acme/Base-1B"


def test_model_index_metrics(tmp_path: Path) -> None:
    save_single(tmp_path / "clf", tiny_state_dict())
    write_card(
        tmp_path / "clf",
        """
license: mit
pipeline_tag: text-classification
model-index:
- name: clf-small
  results:
  - task: {type: text-classification, name: Text Classification}
    dataset: {name: IMDB, type: imdb, split: test}
    metrics:
    - {type: accuracy, value: 0.912, name: Accuracy}
    - {type: f1, value: 0.9}
  - task: {type: text-classification}
    dataset: {type: sst2}
    metrics:
    - {type: accuracy, value: 88.5}
""",
    )
    model = by_ref(scan(tmp_path), "model-dir:clf")
    assert model["name"] == "clf-small"
    assert model["modelCard"]["quantitativeAnalysis"] == {
        "performanceMetrics": [
            {"type": "accuracy", "value": "0.912", "slice": "text-classification: IMDB (test)"},
            {"type": "f1", "value": "0.9", "slice": "text-classification: IMDB (test)"},
            {"type": "accuracy", "value": "88.5", "slice": "text-classification: sst2"},
        ]
    }


def test_card_licenses_other_and_hub_tags(tmp_path: Path) -> None:
    save_single(tmp_path / "a", tiny_state_dict())
    write_card(
        tmp_path / "a",
        "license: other\nlicense_name: acme-model-license\nlicense_link: https://acme.example/model-license\n"
        "pipeline_tag: text-generation",
    )
    save_single(tmp_path / "b", tiny_state_dict())
    write_card(tmp_path / "b", "license: llama3.1\nbase_model: meta-llama/Llama-3.1-8B")
    save_single(tmp_path / "c", tiny_state_dict())
    write_card(tmp_path / "c", "license: unknown\npipeline_tag: text-generation")
    bom = scan(tmp_path)
    assert by_ref(bom, "model-dir:a")["licenses"] == [
        {
            "license": {
                "name": "acme-model-license",
                "url": "https://acme.example/model-license",
                "acknowledgement": "declared",
            }
        }
    ]
    assert by_ref(bom, "model-dir:b")["licenses"] == [
        {
            "license": {
                "name": "Llama 3.1 Community License Agreement",
                "url": "https://www.llama.com/llama3_1/license/",
                "acknowledgement": "declared",
            }
        }
    ]
    c = by_ref(bom, "model-dir:c")
    assert "licenses" not in c
    assert props(c)["aibom:license:card"] == "unknown"


def test_card_and_license_file_disagree(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_single(folder, tiny_state_dict())
    write_card(folder, "license: mit\npipeline_tag: fill-mask")
    (folder / "LICENSE").write_text(APACHE_TEXT)
    model = by_ref(scan(tmp_path), "model-dir:m")
    assert sorted(model["licenses"], key=lambda x: x["license"]["id"]) == [
        {"license": {"id": "Apache-2.0", "acknowledgement": "concluded"}},
        {"license": {"id": "MIT", "acknowledgement": "declared"}},
    ]
    assert props(model)["aibom:license:mismatch"] == "card declares MIT; license file says Apache-2.0 (m/LICENSE)"

    write_card(folder, "license: apache-2.0\npipeline_tag: fill-mask")
    model = by_ref(scan(tmp_path), "model-dir:m")
    assert len(model["licenses"]) == 2
    assert "aibom:license:mismatch" not in props(model)


def test_base_model_list_and_relation(tmp_path: Path) -> None:
    save_single(tmp_path / "merged", tiny_state_dict())
    write_card(
        tmp_path / "merged",
        """
license: apache-2.0
base_model:
- acme/alpha-7b
- https://huggingface.co/beta/Beta-7B
base_model_relation: merge
""",
    )
    bom = scan(tmp_path)
    model = by_ref(bom, "model-dir:merged")
    assert [a["purl"] for a in model["pedigree"]["ancestors"]] == [
        "pkg:huggingface/acme/alpha-7b",
        "pkg:huggingface/beta/Beta-7B",
    ]
    assert depends_on(bom, "model-dir:merged") == ["hf:model:acme/alpha-7b", "hf:model:beta/Beta-7B"]
    assert card_props(model)["cdx:ai-ml:model:base-model:relation"] == "merge"


def test_auto_map_is_unsafe_code(tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    save_single(folder, tiny_state_dict())
    config = {
        "architectures": ["CustomModel"],
        "model_type": "custom",
        "auto_map": {"AutoConfig": "configuration_custom.CustomConfig", "AutoModel": "modeling_custom.CustomModel"},
    }
    write_json(folder / "config.json", config)
    (folder / "configuration_custom.py").write_text("raise SystemExit('never imported')\n")
    (folder / "modeling_custom.py").write_text("raise SystemExit('never imported')\n")
    model = by_ref(scan(tmp_path), "model-dir:custom")
    (f,) = findings(model)
    assert (f["rule"], f["category"], f["severity"]) == ("remote-code-on-load", "unsafe-code", "warning")
    assert f["location"] == "custom/config.json"
    assert "configuration_custom.py, modeling_custom.py" in f["message"]
    locations = [o["location"] for o in model["evidence"]["occurrences"]]
    assert "custom/modeling_custom.py" in locations

    # code from another Hub repo, and a module that is not shipped: an error
    config["auto_map"]["AutoModel"] = "acme/other-repo--modeling_other.OtherModel"
    config["auto_map"]["AutoTokenizer"] = ["tokenization_gone.GoneTokenizer", None]
    write_json(folder / "config.json", config)
    (f,) = findings(by_ref(scan(tmp_path), "model-dir:custom"))
    assert f["severity"] == "error"
    assert "tokenization_gone.py (not in the folder)" in f["message"]
    assert "acme/other-repo--modeling_other (another Hub repo)" in f["message"]


def test_quantization_config(tmp_path: Path) -> None:
    save_single(tmp_path / "q", tiny_state_dict())
    write_json(
        tmp_path / "q" / "config.json",
        {"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}},
    )
    cp = card_props(by_ref(scan(tmp_path), "model-dir:q"))
    assert cp["cdx:ai-ml:model:quantization"] == "gptq"
    assert cp["cdx:ai-ml:model:quantization:bits"] == "4"


def test_lone_weights_and_foreign_files_stay_as_they_were(tmp_path: Path) -> None:
    save_single(tmp_path / "loose", tiny_state_dict(), "encoder.safetensors")
    write_json(tmp_path / "app" / "config.json", {"debug": True, "port": 8080})
    ds = tmp_path / "data"
    ds.mkdir()
    (ds / "README.md").write_text("---\nlicense: cc-by-4.0\ntask_categories: [text-classification]\n---\n# Data\n")
    bom = scan(tmp_path)
    refs = sorted(c["bom-ref"] for c in bom["components"])
    # the dataset card describes its folder as a dataset; it is not taken for a model
    assert refs == ["dataset:data", "path:loose/encoder.safetensors"]
    assert by_ref(bom, "path:loose/encoder.safetensors")["type"] == "machine-learning-model"


def test_gguf_repo_variants_are_not_summed(tmp_path: Path) -> None:
    folder = tmp_path / "variants"
    save_single(folder, tiny_state_dict(), "model-q4.safetensors")
    save_single(folder, tiny_state_dict("float32"), "model-q8.safetensors")
    write_card(folder, "license: mit\npipeline_tag: text-generation")
    cp = card_props(by_ref(scan(tmp_path), "model-dir:variants"))
    assert "cdx:ai-ml:model:parameter:count" not in cp
    assert cp["cdx:ai-ml:model:weights:variants"] == "2"


def test_model_directory_bom_is_deterministic_through_the_cli(tmp_path: Path) -> None:
    make_llm_dir(tmp_path / "m")
    (tmp_path / "m" / "modeling_x.py").write_text("raise SystemExit\n")
    write_json(tmp_path / "m" / "config.json", {"model_type": "x", "auto_map": {"AutoModel": "modeling_x.X"}})
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    outputs = set()
    for _ in range(2):
        for fmt in ("cyclonedx-json", "cyclonedx-xml"):
            outputs.add(cli_scan(tmp_path, "--format", fmt, "--spec-version", "1.7", env=env))
    assert len(outputs) == 2


def test_scanning_a_model_directory_itself(tmp_path: Path) -> None:
    save_single(tmp_path, tiny_state_dict())
    write_json(tmp_path / "config.json", {"architectures": ["A"], "model_type": "a"})
    write_card(tmp_path, "license: mit\npipeline_tag: fill-mask")
    (tmp_path / "LICENSE").write_text(APACHE_TEXT)
    bom = scan(tmp_path)
    (model,) = bom["components"]
    assert model["bom-ref"] == "model-dir:."
    assert model["name"] == tmp_path.name
    assert sorted(c["bom-ref"] for c in model["components"]) == [
        "path:README.md",
        "path:config.json",
        "path:model.safetensors",
    ]
    assert props(model)["aibom:license:mismatch"] == "card declares MIT; license file says Apache-2.0 (LICENSE)"


def test_other_front_matter_is_not_a_model_card(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\ntitle: My site\nlayout: {{ page }}: x\n---\n# Hello\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "README.md").write_text("---\nlicense: mit\n---\n# Docs\n")  # a card, but no model here
    bom = scan(tmp_path)
    assert bom.get("components", []) == []
    assert [p for p in bom["metadata"].get("properties", []) if p["name"] == "aibom:finding"] == []


def test_hub_identity_from_the_cache_layout_and_the_card(tmp_path: Path) -> None:
    rev = "0123456789abcdef0123456789abcdef01234567"
    snap = tmp_path / "hub" / "models--acme--Tiny-LM" / "snapshots" / rev
    save_single(snap, tiny_state_dict())
    write_card(snap, "license: mit\npipeline_tag: text-generation")
    named = tmp_path / "named"
    save_single(named, tiny_state_dict())
    write_card(named, "license: mit\nmodel-index:\n- name: acme/Named-LM\n  results: []")
    bom = scan(tmp_path)
    cached = by_ref(bom, f"model-dir:hub/models--acme--Tiny-LM/snapshots/{rev}")
    assert cached["purl"] == f"pkg:huggingface/acme/Tiny-LM@{rev}"
    assert (cached["name"], cached["version"]) == ("acme/Tiny-LM", rev)
    assert {"type": "model-card", "url": "https://huggingface.co/acme/Tiny-LM", "comment": "model card on the Hub"} in (
        cached["externalReferences"]
    )
    assert props(cached)["aibom:provenance:huggingface"] == "https://huggingface.co/acme/Tiny-LM"
    model = by_ref(bom, "model-dir:named")
    assert model["purl"] == "pkg:huggingface/acme/Named-LM"
    assert "version" not in model


def test_findings_of_parts_belong_to_the_model(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    save_single(folder, tiny_state_dict())
    write_json(folder / "config.json", {"model_type": "x"})
    broken = (folder / "model.safetensors").read_bytes()[:-3]
    (folder / "model.safetensors").write_bytes(broken)
    bom = scan(tmp_path)
    model = by_ref(bom, "model-dir:m")
    (f,) = findings(model)
    assert (f["rule"], f["category"], f["location"]) == ("unreadable-file", "unreadable", "m/model.safetensors")
    assert all(findings(part) == [] for part in model["components"])
    assert "cdx:ai-ml:model:parameter:count" not in card_props(model)
