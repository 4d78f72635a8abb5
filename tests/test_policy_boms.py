"""`aibom check BOM`: BOMs written by other tools (CycloneDX 1.4-1.6, JSON and XML) and by aibom itself.

Checking a tree and checking its BOM must give the same findings: the round-trip tests guard that the BOM
records everything the rules need.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion

from aibom.bom.formats import render
from aibom.bom.read import BomReadError, read_bom
from aibom.bom.validate import json_errors, xml_errors
from aibom.pipeline import ScanOptions, scan_tree
from aibom.policy import engine

from policy_helpers import AGPL, LLAMA31, MIT, brief, check, levels, weights

SHA = "a" * 64


def _write_json(path: Path, doc: dict[str, Any], version: SchemaVersion) -> Path:
    assert json_errors(doc, version) is None  # as another tool would write it: schema-valid
    path.write_text(json.dumps(doc))
    return path


def test_llama_adapter_relabelled_apache_cdx15_json(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "name": "my-adapter-release",
                "licenses": [{"license": {"id": "Apache-2.0"}}],
            }
        },
        "components": [
            {
                "type": "machine-learning-model",
                "bom-ref": "adapter",
                "name": "my-llama-adapter",
                "hashes": [{"alg": "SHA-256", "content": SHA}],
                "licenses": [{"license": {"id": "Apache-2.0"}}],
                "evidence": {"occurrences": [{"location": "adapter/adapter_model.safetensors"}]},
                "pedigree": {
                    "ancestors": [
                        {
                            "type": "machine-learning-model",
                            "name": "Llama-3.1-8B",
                            "purl": "pkg:huggingface/meta-llama/Llama-3.1-8B",
                        }
                    ]
                },
                "modelCard": {"modelParameters": {"datasets": [{"ref": "chat-data"}]}},
            },
            {
                "type": "machine-learning-model",
                "bom-ref": "base",
                "name": "meta-llama/Llama-3.1-8B",
                "purl": "pkg:huggingface/meta-llama/Llama-3.1-8B",
                "hashes": [{"alg": "SHA-256", "content": SHA}],
                "properties": [{"name": "aibom:external", "value": "true"}],  # no license: known by its Hub name
            },
            {
                "type": "data",
                "bom-ref": "chat-data",
                "name": "chat-data",
                "licenses": [{"license": {"id": "CC-BY-4.0"}}],
                "evidence": {"occurrences": [{"location": "data/chat.jsonl"}]},
            },
        ],
    }
    code, report = check(_write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_5))
    assert code == 1
    assert brief(report) == [("base-license-not-inherited", "error", "adapter/adapter_model.safetensors")]
    assert report["findings"][0]["message"] == (
        "model adapter/adapter_model.safetensors is labelled Apache-2.0 but its base meta-llama/Llama-3.1-8B is under "
        "Llama 3.1 Community License Agreement, whose terms flow down"
    )
    assert levels(report) == {"adapter/adapter_model.safetensors": "restricted-weights"}


def test_non_commercial_dataset_behind_mit_model_cdx15_xml(tmp_path: Path) -> None:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <metadata><component type="application"><name>classifier</name>
    <licenses><license><id>MIT</id></license></licenses></component></metadata>
  <components>
    <component type="machine-learning-model" bom-ref="model">
      <name>classifier</name>
      <hashes><hash alg="SHA-256">{SHA}</hash></hashes>
      <licenses><license><id>MIT</id></license></licenses>
      <evidence><occurrences><occurrence><location>model.safetensors</location></occurrence></occurrences></evidence>
      <modelCard><modelParameters><datasets><ref>faces</ref></datasets></modelParameters></modelCard>
    </component>
    <component type="data" bom-ref="faces">
      <name>faces</name>
      <licenses><license><id>CC-BY-NC-4.0</id></license></licenses>
      <evidence><occurrences><occurrence><location>data/faces.parquet</location></occurrence></occurrences></evidence>
    </component>
    <component type="library" bom-ref="pkg:pypi/torch@2.3.0">
      <name>torch</name><version>2.3.0</version><purl>pkg:pypi/torch@2.3.0</purl>
      <evidence><occurrences><occurrence><location>requirements.txt</location></occurrence></occurrences></evidence>
    </component>
  </components>
</bom>
"""
    assert xml_errors(xml, SchemaVersion.V1_5) is None
    path = tmp_path / "bom.xml"
    path.write_text(xml)
    code, report = check(path)
    assert code == 1
    assert brief(report) == [("non-commercial-input", "error", "model.safetensors")]
    assert report["findings"][0]["message"] == (
        "model model.safetensors (MIT) is built from dataset data/faces.parquet licensed CC-BY-NC-4.0 (non-commercial)"
    )
    assert levels(report) == {"model.safetensors": "open-source-ai"}  # code and data present; the data is not open
    assert check(path, "--fail-on", "never")[0] == 0


def test_gpl_dependency_in_mit_package_cdx14_json(tmp_path: Path) -> None:
    def lib(name: str, license_entry: dict[str, Any], **extra: Any) -> dict[str, Any]:
        purl = f"pkg:pypi/{name}@1.0"
        return {"type": "library", "bom-ref": purl, "name": name, "version": "1.0", "purl": purl,
                "licenses": [license_entry], **extra}  # fmt: skip

    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "version": 1,
        "metadata": {"component": {"type": "library", "name": "mypkg", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": [
            lib("gplthing", {"license": {"id": "GPL-3.0-only"}}),
            lib("agplthing", {"expression": "AGPL-3.0-or-later AND MIT"}),
            lib("dualthing", {"expression": "GPL-2.0-only OR MIT"}),
            lib("lgplthing", {"license": {"id": "LGPL-2.1-only"}}),
            lib("testthing", {"license": {"id": "GPL-2.0-only"}}, scope="excluded"),
            lib("mystery", {"license": {"name": "Mystery Public License"}}),
        ],
    }
    code, report = check(_write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_4))
    assert code == 1
    assert [(f["rule"], f["severity"], f["component"]) for f in report["findings"]] == [
        ("copyleft-dependency", "error", "pkg:pypi/agplthing@1.0"),
        ("copyleft-dependency", "error", "pkg:pypi/gplthing@1.0"),
        ("unknown-license", "warning", "pkg:pypi/mystery@1.0"),
        ("copyleft-dependency", "info", "pkg:pypi/testthing@1.0"),
    ]
    assert report["findings"][1]["message"] == (
        "dependency gplthing is licensed GPL-3.0-only, incompatible with the release license MIT"
    )


def test_library_only_bom_cdx14_xml_is_clean(tmp_path: Path) -> None:
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <metadata><component type="application"><name>app</name>
    <licenses><expression>MIT OR Apache-2.0</expression></licenses></component></metadata>
  <components>
    <component type="library"><name>requests</name><version>2.32.0</version>
      <licenses><license><id>Apache-2.0</id></license></licenses><purl>pkg:pypi/requests@2.32.0</purl></component>
    <component type="library"><name>click</name><version>8.1.7</version>
      <licenses><license><id>BSD-3-Clause</id></license></licenses><purl>pkg:pypi/click@8.1.7</purl></component>
  </components>
</bom>
"""
    assert xml_errors(xml, SchemaVersion.V1_4) is None
    path = tmp_path / "bom.xml"
    path.write_text(xml)
    code, report = check(path)
    assert code == 0 and report["findings"] == [] and report["summary"]["models"] == []


def test_fully_open_project_is_reproducible_and_clean(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "component": {"type": "application", "name": "open", "licenses": [{"license": {"id": "Apache-2.0"}}]}
        },
        "components": [
            {
                "type": "machine-learning-model", "bom-ref": "m", "name": "open-model",
                "hashes": [{"alg": "SHA-256", "content": SHA}], "licenses": [{"license": {"id": "Apache-2.0"}}],
                "evidence": {"occurrences": [{"location": "model.safetensors"}]},
                "modelCard": {"modelParameters": {"datasets": [{"ref": "d"}]}},
            },
            {
                "type": "data", "bom-ref": "d", "name": "corpus", "licenses": [{"license": {"id": "CC-BY-4.0"}}],
                "evidence": {"occurrences": [{"location": "data/train.parquet"}]},
            },
            {
                "type": "library", "bom-ref": "pkg:pypi/numpy@2.0.0", "name": "numpy", "version": "2.0.0",
                "purl": "pkg:pypi/numpy@2.0.0", "licenses": [{"license": {"id": "BSD-3-Clause"}}],
                "evidence": {"occurrences": [{"location": "train.py", "line": 3}]},
            },
        ],
    }  # fmt: skip
    code, report = check(_write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_6))
    assert code == 0
    assert report["findings"] == []
    assert levels(report) == {"model.safetensors": "reproducible"}


# --- round trip: tree vs its BOM -------------------------------------------------------------------------


def _seed(root: Path) -> None:
    (root / "LICENSE").write_text(AGPL)
    weights(root / "model.safetensors")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 4)


def _llama(root: Path) -> None:
    (root / "LICENSE").write_text(LLAMA31)
    weights(root / "a" / "model.safetensors")
    (root / "b").mkdir()
    (root / "b" / "LICENSE").write_text(MIT)
    weights(root / "b" / "small.safetensors", (2,))


def _messy(root: Path) -> None:
    weights(root / "ok.safetensors")
    (root / "broken.safetensors").write_bytes(weights(root / "tmp.safetensors").read_bytes()[:30])
    (root / "tmp.safetensors").unlink()
    (root / "requirements.txt").write_text("numpy==2.0.0\ntorch>=2\n")
    (root / "data").mkdir()
    (root / "data" / "LICENSE").write_text("Creative Commons Attribution-NonCommercial 4.0 International\n")
    (root / "data" / "x.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (root / "NOTICE").write_text("notice\n")


def _hf_adapter(root: Path) -> None:
    """A Hugging Face style adapter folder: card with license, base model and datasets (read by the HF scanners
    where they exist; plain text files otherwise)."""
    folder = root / "adapter"
    weights(folder / "adapter_model.safetensors")
    (folder / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.1-8B", "r": 8})
    )
    (folder / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B\ndatasets:\n- org/chat-data\n"
        "tags:\n- open-source\n---\n# My adapter\n"
    )
    (root / "train.py").write_text("from datasets import load_dataset\nds = load_dataset('org/chat-data')\n")


def _clean(root: Path) -> None:
    (root / "LICENSE").write_text(MIT)
    (root / "README.md").write_text("hello\n")


def _findings(result: engine.CheckResult) -> list[dict[str, Any]]:
    return [asdict(f) for f in result.findings]


@pytest.mark.parametrize("make", [_seed, _llama, _messy, _hf_adapter, _clean])
@pytest.mark.parametrize(
    ("fmt", "spec"), [("cyclonedx-json", "1.6"), ("cyclonedx-xml", "1.6"), ("cyclonedx-json", "1.7")]
)
def test_tree_and_its_bom_give_the_same_findings(tmp_path: Path, make, fmt: str, spec: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "tree"
    root.mkdir()
    make(root)
    inv = scan_tree(root, ScanOptions(use_cache=False))
    from_tree = engine.check(inv)
    assert from_tree.findings or make is _clean
    engine.openness(inv)
    bom = tmp_path / ("bom.cdx.xml" if fmt.endswith("xml") else "bom.cdx.json")
    bom.write_text(render(inv, fmt, spec))
    from_bom = engine.check(read_bom(bom))
    assert _findings(from_bom) == _findings(from_tree)
    assert from_bom.models == from_tree.models


def test_openness_is_recorded_in_the_bom(tmp_path: Path) -> None:
    _seed(tmp_path)
    from conftest import component_at, prop, scan_json

    bom = scan_json(tmp_path)
    assert prop(component_at(bom, "model.safetensors"), "aibom:openness") == "open-weights"


# --- hostile BOMs ------------------------------------------------------------------------------------------


def test_hostile_boms_are_input_errors_or_parsed(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(
        '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": ' + "[" * 100000 + "]" * 100000 + "}"
    )
    with pytest.raises(BomReadError):
        read_bom(deep)
    nested = {"type": "library", "name": "x"}
    for _ in range(100):
        nested = {"type": "library", "name": "x", "components": [nested]}
    too_nested = tmp_path / "nested.json"
    too_nested.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [nested]}))
    with pytest.raises(BomReadError, match="nested too deeply"):
        read_bom(too_nested)
    laughs = tmp_path / "laughs.xml"
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    laughs.write_text(
        f'<?xml version="1.0"?><!DOCTYPE bom [{entities}]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components><component type="library">'
        "<name>&l9;</name></component></components></bom>"
    )
    try:  # never expanded: either refused by the parser or read with the entity left as is
        assert all(len(a.name) < 1000 for a in read_bom(laughs).artifacts)
    except BomReadError as exc:
        assert "amplification" in str(exc)
    external = tmp_path / "xxe.xml"
    external.write_text(
        '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components><component type="library">'
        "<name>&x;</name></component></components></bom>"
    )
    assert "root:" not in read_bom(external).artifacts[0].name
    wrong = tmp_path / "wrong.xml"
    wrong.write_text('<bom xmlns="http://example.com/"><components/></bom>')
    with pytest.raises(BomReadError, match="not a CycloneDX XML BOM"):
        read_bom(wrong)


def test_comments_and_processing_instructions_in_xml_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_text(
        '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><!-- c --><components>'
        '<?pi x?><component type="library"><!-- c --><name>x</name><licenses><!-- c --><license><id>MIT</id>'
        "</license></licenses></component></components></bom>"
    )
    [artifact] = read_bom(path).artifacts
    assert artifact.name == "x" and artifact.licenses[0].expression == "MIT"


def test_lineage_conflicts_merge_nd_base_and_non_commercial_base(tmp_path: Path) -> None:
    def model(ref: str, license_entry: dict[str, Any], bases: list[str] = (), external: bool = False) -> dict[str, Any]:  # type: ignore[assignment]
        comp: dict[str, Any] = {
            "type": "machine-learning-model", "bom-ref": ref, "name": ref, "purl": f"pkg:huggingface/org/{ref}",
            "hashes": [{"alg": "SHA-256", "content": SHA}], "licenses": [license_entry],
        }  # fmt: skip
        if bases:
            comp["pedigree"] = {
                "ancestors": [
                    {"type": "machine-learning-model", "name": b, "purl": f"pkg:huggingface/org/{b}"} for b in bases
                ]
            }
            comp["evidence"] = {"occurrences": [{"location": f"{ref}/model.safetensors"}]}
        if external:
            comp["properties"] = [{"name": "aibom:external", "value": "true"}]
        return comp

    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "zoo", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": [
            model("llama-base", {"license": {"name": "llama3"}}, external=True),
            model("gemma-base", {"license": {"name": "gemma"}}, external=True),
            model("nd-base", {"license": {"id": "CC-BY-ND-4.0"}}, external=True),
            model("nc-base", {"license": {"id": "CC-BY-NC-4.0"}}, external=True),
            model("merged", {"license": {"name": "llama3"}}, ["llama-base", "gemma-base"]),
            model("tuned-nd", {"license": {"id": "CC-BY-ND-4.0"}}, ["nd-base"]),
            model("tuned-nc", {"license": {"id": "Apache-2.0"}}, ["nc-base"]),
        ],
    }
    code, report = check(
        _write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_6), "--policy", str(_no_data(tmp_path))
    )
    assert code == 1
    assert [(f["rule"], f["location"]) for f in report["findings"]] == [
        ("base-license-not-inherited", "merged/model.safetensors"),
        ("incompatible-merge", "merged/model.safetensors"),
        ("non-commercial-input", "tuned-nc/model.safetensors"),
        ("base-license-not-inherited", "tuned-nd/model.safetensors"),
        # no copy of the Llama 3 license, no NOTICE, and a derived name that does not begin with 'Llama 3'
        ("ai-license-obligations", "merged/model.safetensors"),
        ("ai-license-obligations", "merged/model.safetensors"),
        ("ai-license-obligations", "merged/model.safetensors"),
    ]
    assert report["findings"][1]["message"] == (
        "model merged/model.safetensors merges bases whose terms all flow down: gemma-base (gemma terms), "
        "llama-base (llama terms)"
    )
    assert report["findings"][3]["message"].endswith("whose license CC-BY-ND-4.0 allows no derivatives")
    assert levels(report) == {
        "merged/model.safetensors": "restricted-weights",
        "tuned-nc/model.safetensors": "restricted-weights",
        "tuned-nd/model.safetensors": "restricted-weights",
    }


def _no_data(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.toml"
    policy.write_text('[rules]\n"no-training-data" = "off"\n')
    return policy


def test_dataset_findings_external_unlicensed_and_share_alike(tmp_path: Path) -> None:
    def data(ref: str, licenses: list[dict[str, Any]], location: str | None = None) -> dict[str, Any]:
        comp: dict[str, Any] = {"type": "data", "bom-ref": ref, "name": ref, "licenses": licenses}
        if location:
            comp["evidence"] = {"occurrences": [{"location": location}]}
        else:
            comp["properties"] = [{"name": "aibom:external", "value": "true"}]
        return comp

    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "d", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": [
            {
                "type": "machine-learning-model", "bom-ref": "m", "name": "m",
                "hashes": [{"alg": "SHA-256", "content": SHA}], "licenses": [{"license": {"id": "MIT"}}],
                "evidence": {"occurrences": [{"location": "model.safetensors"}]},
                "modelCard": {"modelParameters": {"datasets": [{"ref": "hub"}, {"ref": "local"}, {"ref": "wiki"}]}},
            },
            data("hub", [{"license": {"id": "CC0-1.0"}}]),
            data("local", [], "data/local.csv"),
            data("wiki", [{"license": {"id": "CC-BY-SA-4.0"}}], "data/wiki.parquet"),
        ],
    }  # fmt: skip
    code, report = check(_write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_6))
    assert code == 1
    assert [(f["rule"], f["severity"], f["location"]) for f in report["findings"]] == [
        ("missing-license", "error", "data/local.csv"),
        ("share-alike-input", "warning", "model.safetensors"),
        ("training-data-not-found", "info", "model.safetensors"),
    ]
    assert report["findings"][2]["message"] == "model model.safetensors names dataset hub, which is not in the tree"
    assert report["findings"][2]["category"] == "missing-data-provenance"


def test_openwashing_claim_in_card_tags_and_description(tmp_path: Path) -> None:
    def model(ref: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "machine-learning-model", "bom-ref": ref, "name": ref, "licenses": [{"license": {"id": "MIT"}}],
            "hashes": [{"alg": "SHA-256", "content": SHA}], "evidence": {"occurrences": [{"location": f"{ref}.gguf"}]},
            **extra,
        }  # fmt: skip

    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "w", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": [
            model("tagged", modelCard={"properties": [{"name": "cdx:ai-ml:model:tags", "value": "llm,open-source"}]}),
            model("described", description="A fully Open Source model."),
            model("quiet", description="A small model."),
        ],
    }
    _, report = check(_write_json(tmp_path / "bom.json", doc, SchemaVersion.V1_6), "--policy", str(_no_data(tmp_path)))
    assert [(f["rule"], f["location"]) for f in report["findings"]] == [
        ("openwashing", "described.gguf"),
        ("openwashing", "tagged.gguf"),
    ]
    assert report["findings"][0]["message"] == (
        "model described.gguf is described as open source but its openness level is open-weights"
    )


def test_llama_derivative_obligations_copy_notice_and_name(tmp_path: Path) -> None:
    """A Llama 3.1 fine-tune: the license copy, the NOTICE and the 'Llama' name prefix are each checked."""

    def doc(name: str, concluded: bool, notice: bool) -> dict:
        licenses = [{"license": {"name": "llama3.1", "acknowledgement": "declared"}}]
        if concluded:
            licenses.append(
                {"license": {"name": "Llama 3.1 Community License Agreement", "acknowledgement": "concluded"}}
            )
        props = [{"name": "aibom:notice-file", "value": "NOTICE"}] if notice else []
        return {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "metadata": {"component": {"type": "application", "name": "ft"}, "properties": props},
            "components": [
                {
                    "type": "machine-learning-model",
                    "name": "meta-llama/Llama-3.1-8B",
                    "bom-ref": "base",
                    "properties": [{"name": "aibom:external", "value": "true"}],
                },
                {
                    "type": "machine-learning-model",
                    "name": name,
                    "bom-ref": "ft",
                    "licenses": licenses,
                    "pedigree": {
                        "ancestors": [{"type": "machine-learning-model", "name": "base", "bom-ref": "base-anc"}]
                    },
                    "evidence": {"occurrences": [{"location": "ft/model.safetensors"}]},
                },
            ],
            "dependencies": [{"ref": "ft", "dependsOn": ["base"]}],
        }

    def obligations(name: str, concluded: bool, notice: bool) -> list[str]:
        path = _write_json(
            tmp_path / f"{name}-{concluded}-{notice}.json", doc(name, concluded, notice), SchemaVersion.V1_6
        )
        _, report = check(path, "--fail-on", "never")
        return sorted(f["message"] for f in report["findings"] if f["rule"] == "ai-license-obligations")

    bare = obligations("my-chat-model", concluded=False, notice=False)
    assert len(bare) == 3
    assert any("no copy of that license ships" in m for m in bare)
    assert any("no NOTICE file" in m for m in bare)
    assert any("requires the name to begin with 'Llama'" in m for m in bare)
    assert obligations("Llama-3.1-my-chat", concluded=True, notice=True) == []
