"""`aibom check` on real projects made on disk: exact findings, severities, openness and exit codes."""

from __future__ import annotations

from pathlib import Path

from conftest import run_aibom
from policy_helpers import AGPL, LLAMA31, MIT, brief, check, levels, weights


def test_seed_case_agpl_code_with_weights_only_release(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(AGPL)
    weights(tmp_path / "model.safetensors")
    (tmp_path / "serve.py").write_text("print('serving')\n")
    code, report = check(tmp_path)
    assert code == 1
    assert brief(report) == [
        ("copyleft-weights-without-source", "error", "model.safetensors"),
        ("no-training-data", "warning", "model.safetensors"),
    ]
    first = report["findings"][0]
    assert first["category"] == "license-conflict"
    assert first["component"] == "path:model.safetensors"
    assert first["message"] == (
        "model model.safetensors is under AGPL-3.0-only but its training code and training data are not released"
    )
    assert first["remediation"].startswith("Release the training code and data")
    assert levels(report) == {"model.safetensors": "open-weights"}
    assert report["summary"]["errors"] == 1 and report["summary"]["warnings"] == 1 and report["summary"]["failed"]


def test_permissive_project_passes_with_a_provenance_warning(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(MIT)
    weights(tmp_path / "model.safetensors")
    code, report = check(tmp_path)
    assert code == 0
    assert brief(report) == [("no-training-data", "warning", "model.safetensors")]
    assert levels(report) == {"model.safetensors": "open-weights"}
    assert check(tmp_path, "--fail-on", "warning")[0] == 1
    assert check(tmp_path, "--fail-on", "never")[0] == 0


def test_weights_without_license_and_unknown_binary_are_proprietary_blobs(tmp_path: Path) -> None:
    weights(tmp_path / "weights" / "model.safetensors")
    (tmp_path / "weights" / "extra.bin").write_bytes(bytes(range(256)) * 8)
    code, report = check(tmp_path)
    assert code == 1
    assert brief(report) == [
        ("unlicensed-weights", "error", "weights/model.safetensors"),
        ("missing-license", "warning", None),
        ("unidentified-binary", "warning", "weights/extra.bin"),
        ("no-training-data", "warning", "weights/model.safetensors"),
    ]
    assert {f["category"] for f in report["findings"]} == {
        "proprietary-blob",
        "missing-license",
        "missing-data-provenance",
    }
    assert levels(report) == {"weights/model.safetensors": "proprietary-blob"}


def test_llama_license_without_notice_is_restricted_and_flags_obligations(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(LLAMA31)
    weights(tmp_path / "model.safetensors")
    code, report = check(tmp_path)
    assert code == 0
    assert brief(report) == [
        ("ai-license-obligations", "warning", "model.safetensors"),
        ("no-training-data", "warning", "model.safetensors"),
    ]
    assert "Llama 3.1 Community License Agreement" in report["findings"][0]["message"]
    assert levels(report) == {"model.safetensors": "restricted-weights"}
    (tmp_path / "NOTICE").write_text("Llama 3.1 is licensed under the Llama 3.1 Community License.\n")
    assert brief(check(tmp_path)[1]) == [("no-training-data", "warning", "model.safetensors")]


def test_unknown_license_text_is_reported_and_makes_weights_opaque(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("You may use this on Tuesdays if the author agrees.\n")
    weights(tmp_path / "model.safetensors")
    code, report = check(tmp_path)
    assert code == 0
    assert brief(report) == [
        ("unknown-license", "warning", None),
        ("no-training-data", "warning", "model.safetensors"),
        ("unknown-license", "warning", "model.safetensors"),
    ]
    assert levels(report) == {"model.safetensors": "proprietary-blob"}


def test_scanner_findings_pass_through(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(MIT)
    good = weights(tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "broken.safetensors").write_bytes(good[:20])
    code, report = check(tmp_path)
    assert code == 1
    assert ("unreadable-file", "error", "broken.safetensors") in brief(report)
    unreadable = next(f for f in report["findings"] if f["rule"] == "unreadable-file")
    assert unreadable["category"] == "unreadable" and unreadable["component"] == "path:broken.safetensors"


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    proc = run_aibom("check", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "does not exist" in proc.stderr
    bad = tmp_path / "bom.json"
    bad.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [')
    proc = run_aibom("check", str(bad))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not valid JSON" in proc.stderr
    other = tmp_path / "other.json"
    other.write_text('{"spdxVersion": "SPDX-2.3"}')
    proc = run_aibom("check", str(other))
    assert proc.returncode == 2 and "not a CycloneDX JSON BOM" in proc.stderr
    old = tmp_path / "old.json"
    old.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.3", "version": 1}')
    proc = run_aibom("check", str(old))
    assert proc.returncode == 2 and "CycloneDX 1.3 is not supported" in proc.stderr
    proc = run_aibom("check", str(tmp_path), "--format", "yaml")
    assert proc.returncode == 2


def test_report_written_to_file(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree).mkdir()
    (tree / "LICENSE").write_text(MIT)
    out = tmp_path / "report.txt"
    proc = run_aibom("check", str(tree), "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text().endswith("0 errors, 0 warnings, 0 infos; 0 waived: passed\n")


def test_weights_with_their_own_license_are_not_under_the_code_license(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(AGPL)
    (tmp_path / "serve.py").write_text("print('serving')\n")
    weights(tmp_path / "weights" / "model.safetensors")
    (tmp_path / "weights" / "LICENSE").write_text(MIT)
    code, report = check(tmp_path)
    assert code == 0
    assert brief(report) == [("no-training-data", "warning", "weights/model.safetensors")]
