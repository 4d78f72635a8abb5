"""CI: the composite GitHub Action is wired to the commands and its shell steps work; output is plain under CI."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS = {step.get("id") or step.get("name") or step.get("uses"): step for step in ACTION["runs"]["steps"]}
EVIL_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."
ESCAPE = re.compile(r"\x1b\[|\r(?!\n)")  # colour/cursor codes, or a carriage return redrawing a progress line


def _step(uses_prefix: str) -> dict[str, Any]:
    return next(step for step in ACTION["runs"]["steps"] if step.get("uses", "").startswith(uses_prefix))


def test_action_inputs_are_wired_to_the_commands() -> None:
    assert ACTION["runs"]["using"] == "composite"
    inputs = ACTION["inputs"]
    assert {"path", "policy", "fail-on", "format", "spec-version"} <= set(inputs)
    assert inputs["fail-on"]["default"] == "error" and inputs["format"]["default"] == "cyclonedx-json"
    assert _step("actions/setup-python@")["with"]["python-version"] == "${{ inputs.python-version }}"
    install = STEPS["Install aibom"]
    assert install["env"]["AIBOM_ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install --disable-pip-version-check "$AIBOM_ACTION_PATH"' in install["run"]

    scan = STEPS["scan"]
    assert scan["env"]["AIBOM_PATH"] == "${{ inputs.path }}"
    assert scan["env"]["AIBOM_FORMAT"] == "${{ inputs.format }}"
    assert scan["env"]["AIBOM_SPEC_VERSION"] == "${{ inputs.spec-version }}"
    assert 'aibom scan "$AIBOM_PATH" --format "$AIBOM_FORMAT" --spec-version "$AIBOM_SPEC_VERSION"' in scan["run"]

    check = STEPS["check"]
    assert check["env"]["AIBOM_POLICY"] == "${{ inputs.policy }}"
    assert check["env"]["AIBOM_FAIL_ON"] == "${{ inputs.fail-on }}"
    assert '--fail-on "$AIBOM_FAIL_ON" --format sarif -o "$sarif"' in check["run"]
    assert 'policy=(--policy "$AIBOM_POLICY")' in check["run"]
    for step in (scan, check):  # inputs reach the shell only through env, never pasted into the script
        assert "${{" not in step["run"]
        assert step["env"]["CI"] == "true"

    artifact = _step("actions/upload-artifact@")
    assert artifact["with"]["path"] == "${{ steps.scan.outputs.bom }}" and "always()" in artifact["if"]
    sarif = _step("github/codeql-action/upload-sarif@")
    assert sarif["with"]["sarif_file"] == "${{ steps.check.outputs.sarif }}" and "always()" in sarif["if"]
    gate = STEPS["Gate on aibom check"]
    assert gate["env"]["AIBOM_STATUS"] == "${{ steps.check.outputs.exit-code }}"
    names = [step.get("id") or step.get("name") for step in ACTION["runs"]["steps"]]
    assert names.index("Gate on aibom check") == len(names) - 1  # the gate comes after both uploads


def _expand(value: str, inputs: dict[str, str], context: dict[str, str]) -> str:
    """Resolve the few `${{ ... }}` expressions the action's env blocks use."""

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("inputs."):
            name = expr.removeprefix("inputs.")
            return inputs.get(name, str(ACTION["inputs"][name].get("default", "")))
        return context[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def _run_step(name: str, inputs: dict[str, str], context: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run one `run:` step with bash as GitHub does (-e, pipefail); return what it wrote to GITHUB_OUTPUT."""
    step = STEPS[name]
    out = cwd.parent / f"{name}.out"
    out.write_text("")
    env = dict(os.environ, GITHUB_OUTPUT=str(out))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update({key: _expand(str(value), inputs, context) for key, value in step.get("env", {}).items()})
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    outputs["returncode"] = str(done.returncode)
    outputs["log"] = done.stdout + done.stderr
    return outputs


def _run_action(workspace: Path, inputs: dict[str, str]) -> dict[str, dict[str, str]]:
    """The action's shell steps in order (setup-python, pip install and the uploads are GitHub's own)."""
    context = {"runner.temp": str(workspace.parent / "runner-temp")}
    scan = _run_step("scan", inputs, context, workspace)
    context |= {f"steps.scan.outputs.{key}": value for key, value in scan.items()}
    check = _run_step("check", inputs, context, workspace)
    context |= {f"steps.check.outputs.{key}": value for key, value in check.items()}
    gate = _run_step("Gate on aibom check", inputs, context, workspace)
    return {"scan": scan, "check": check, "gate": gate}


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "models").mkdir(parents=True)
    save_file({"w": np.zeros((2, 2), dtype=np.float32)}, str(root / "models" / "model.safetensors"))
    (root / "LICENSE").write_text((REPO / "licenses" / "texts" / "MIT.txt").read_text(encoding="utf-8"))
    return root


def test_action_steps_scan_check_and_gate(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    passed = _run_action(root, {"path": "models/..", "spec-version": "1.7"})
    assert passed["scan"]["returncode"] == "0", passed["scan"]["log"]
    bom = json.loads(Path(passed["scan"]["bom"]).read_text(encoding="utf-8"))
    assert bom["specVersion"] == "1.7" and passed["scan"]["bom"].endswith("/runner-temp/aibom/bom.cdx.json")
    assert passed["check"]["exit-code"] == "0" and passed["gate"]["returncode"] == "0"
    sarif = json.loads(Path(passed["check"]["sarif"]).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert "0 errors, 1 warning" in passed["check"]["log"]  # the text report is in the job log

    strict = _run_action(root, {"fail-on": "warning", "format": "spdx-json"})
    assert strict["scan"]["bom"].endswith("/aibom/bom.spdx.json")
    assert json.loads(Path(strict["scan"]["bom"]).read_text())["spdxVersion"] == "SPDX-2.3"
    assert strict["check"]["returncode"] == "0"  # the check step records the status; the gate fails
    assert strict["check"]["exit-code"] == "1" and strict["gate"]["returncode"] == "1"
    assert "aibom check exited with 1" in strict["gate"]["log"]

    (root / "aibom.toml").write_text("[rules]\n", encoding="utf-8")
    bad_policy = _run_action(root, {"policy": "nonexistent.toml"})
    assert bad_policy["check"]["exit-code"] == "2" and bad_policy["gate"]["returncode"] == "2"

    (root / "models" / "model.pkl").write_bytes(EVIL_PICKLE)
    blocked = _run_action(root, {})
    assert blocked["check"]["exit-code"] == "1" and blocked["gate"]["returncode"] == "1"
    results = json.loads(Path(blocked["check"]["sarif"]).read_text())["runs"][0]["results"]
    assert any(r["ruleId"].endswith("pickle-unsafe-import") for r in results)
    assert "error [pickle-unsafe-import]" in blocked["check"]["log"]


def _under_pty(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; return the exit status and everything shown."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize("ci", ["true", None])
def test_plain_output_under_ci_even_on_a_terminal(tmp_path: Path, ci: str | None) -> None:
    root = _workspace(tmp_path)
    (root / "model.pkl").write_bytes(EVIL_PICKLE)
    for i in range(300):  # enough files that the scan draws its progress line on a terminal
        (root / f"f{i}.bin").write_bytes(bytes([i % 256]) * 4096)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    if ci:
        env["CI"] = ci
    aibom = [sys.executable, "-m", "aibom"]
    status, shown = _under_pty([*aibom, "check", "."], env, root)
    assert status == 1 and "pickle-unsafe-import" in shown
    scan_status, scan_shown = _under_pty([*aibom, "scan", ".", "-o", str(tmp_path / "bom.json"), "-j", "1"], env, root)
    assert scan_status == 0 and "BOM written to" in scan_shown
    if ci:
        assert not ESCAPE.search(shown), shown
        assert not ESCAPE.search(scan_shown), scan_shown
    else:  # the control: on a terminal outside CI the report is coloured, so the check above can see colour
        assert "\x1b[" in shown
        assert "files (" in scan_shown and ESCAPE.search(scan_shown)  # the progress line, redrawn with \r
