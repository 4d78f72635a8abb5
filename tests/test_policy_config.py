"""The policy file: TOML, YAML and pyproject.toml; rules off, severities, allow/deny, waivers, errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aibom.policy.config import PolicyError, load

from conftest import run_aibom
from policy_helpers import AGPL, LLAMA31, MIT, brief, check, levels, weights


def _tree(root: Path, license_text: str = AGPL) -> Path:
    root.mkdir()
    (root / "LICENSE").write_text(license_text)
    weights(root / "model.safetensors")
    (root / "vendor").mkdir()
    (root / "vendor" / "blob.bin").write_bytes(bytes(range(256)))
    return root


def test_toml_policy_off_severity_and_waiver(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t")
    policy = tmp_path / "aibom.toml"
    policy.write_text(
        '[rules]\n"no-training-data" = "off"\n"copyleft-weights-without-source" = "warning"\n\n'
        '[[waivers]]\nrule = "unidentified-binary"\npath = "vendor/**"\nreason = "firmware from the vendor"\n'
    )
    code, report = check(tree, "--policy", str(policy))
    assert code == 0
    assert brief(report) == [("copyleft-weights-without-source", "warning", "model.safetensors")]
    assert [(w["rule"], w["waiver_reason"]) for w in report["waived"]] == [
        ("unidentified-binary", "firmware from the vendor")
    ]


def test_yaml_policy_release_terms_and_minimum_openness(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t", MIT)
    policy = tmp_path / "aibom.yaml"
    policy.write_text(
        "release:\n  license: GPL-3.0-only\n  distribution: weights-only\n  min-openness: open-source-ai\n"
        "licenses:\n  deny: [MIT]\n"
    )
    code, report = check(tree, "--policy", str(policy))
    assert code == 1
    assert brief(report) == [
        ("copyleft-weights-without-source", "error", "model.safetensors"),
        ("denied-license", "error", "model.safetensors"),
        ("openness-below-minimum", "error", "model.safetensors"),
        ("denied-license", "error", "vendor/blob.bin"),  # the root MIT license applies to it too
        ("no-training-data", "warning", "model.safetensors"),
        ("unidentified-binary", "warning", "vendor/blob.bin"),
    ]
    assert levels(report) == {"model.safetensors": "open-weights"}


def test_pyproject_tool_aibom_and_allow_list(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t", "The Acme Model License: use it kindly.\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\n\n[tool.aibom.licenses]\nallow = ["unidentified license text (LICENSE)"]\n'
        '[tool.aibom.rules]\n"unidentified-binary" = "info"\n'
    )
    code, report = check(tree, "--policy", str(pyproject))
    assert code == 0
    assert brief(report) == [
        ("no-training-data", "warning", "model.safetensors"),
        ("unidentified-binary", "info", "vendor/blob.bin"),
    ]


def test_expired_waiver_does_not_waive(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t", LLAMA31)
    policy = tmp_path / "aibom.toml"
    policy.write_text(
        '[[waivers]]\nrule = "ai-license-obligations"\npath = "model.safetensors"\nreason = "NOTICE in the release"\n'
        'expires = "2020-01-01"\n'
    )
    _, report = check(tree, "--policy", str(policy))
    [finding] = [f for f in report["findings"] if f["rule"] == "ai-license-obligations"]
    assert finding["message"].endswith("(waiver expired on 2020-01-01: NOTICE in the release)")
    assert report["waived"] == []
    assert load(policy).waivers[0].expires == date(2020, 1, 1)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("p.toml", '[rules]\n"no-training-data" = "loud"\n', "rules.no-training-data: 'loud' is not one of"),
        ("p.toml", "[release]\nlicence = 'MIT'\n", "release: Additional properties are not allowed ('licence'"),
        ("p.yaml", "waivers:\n  - rule: x\n    path: y\n", "waivers.0: 'reason' is a required property"),
        (
            "p.toml",
            "[[waivers]]\nrule='x'\npath='y'\nreason='z'\nexpires='soon'\n",
            "waivers.0.expires: 'soon' is not a",
        ),
        ("p.toml", "[rules\n", "invalid TOML"),
        ("p.yaml", "a: [\n", "invalid YAML"),
        ("p.json", "{}", "must end in .toml, .yaml or .yml"),
        ("p.yaml", "a: &a [1, 2]\nb: [*a, *a]\n", "aliases (*name) are not allowed"),
        ("p.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n", "invalid YAML"),
        ("p.toml", "a = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML"),
        ("p.toml", "[release]\nlicense = 'MIT'\n" + "#" * (1 << 20), "larger than"),
    ],
)
def test_invalid_policy_files_name_file_key_and_problem(tmp_path: Path, name: str, content: str, problem: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PolicyError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


def test_invalid_policy_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    policy = tmp_path / "p.toml"
    policy.write_text('[rules]\n"x" = 3\n')
    proc = run_aibom("check", str(tmp_path / "t"), "--policy", str(policy))
    assert proc.returncode == 2
    assert proc.stderr == f"aibom: error: {policy}: rules.x: 3 is not one of ['error', 'warning', 'info', 'off']\n"


def test_folder_policy_is_discovered(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "t")
    (tree / "pyproject.toml").write_text('[project]\nname = "t"\n\n[tool.aibom.rules]\n"no-training-data" = "off"\n')
    _, report = check(tree)
    assert report["summary"]["policy"] == str(tree / "pyproject.toml")
    assert [f["rule"] for f in report["findings"]] == ["copyleft-weights-without-source", "unidentified-binary"]
    (tree / "aibom.toml").write_text('[rules]\n"unidentified-binary" = "off"\n')  # aibom.toml comes first
    assert [f["rule"] for f in check(tree)[1]["findings"]] == ["copyleft-weights-without-source", "no-training-data"]
    assert len(check(tree, "--no-policy")[1]["findings"]) == 3
    (tree / "aibom.toml").unlink()
    (tree / "pyproject.toml").write_text("[project\n")  # a broken packaging file is not a policy
    _, report = check(tree)
    assert report["summary"]["policy"] is None  # (a dependency scanner may report the broken file itself)
    assert {"copyleft-weights-without-source", "no-training-data", "unidentified-binary"} <= {
        f["rule"] for f in report["findings"]
    }


def test_readme_policy_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "aibom.toml").write_text(example)
    config = load(tmp_path / "aibom.toml")
    assert config.distribution == "weights-only" and config.severities == {"no-training-data": "error"}
    assert config.waivers[0].expires == date(2027, 1, 1) and config.deny == {"agpl-3.0-only"}
