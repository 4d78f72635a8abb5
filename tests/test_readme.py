"""The README's two set-up commands work as written on a fresh virtualenv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, copy_checkout


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands_and_ci_runs_the_second() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && aibom scan examples/")
    assert "pytest" in commands[1] and "[test]" in commands[1]
    assert commands[1] in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_first_command_in_a_fresh_venv(tmp_path: Path) -> None:
    """Install from a copy of the checkout into a new venv and run the first command verbatim."""
    src = tmp_path / "src"
    copy_checkout(src)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        ["bash", "-c", _setup_commands()[0]], cwd=src, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    bom = json.loads((src / "sentiment-demo.cdx.json").read_text(encoding="utf-8"))
    model = next(c for c in bom["components"] if c["type"] == "machine-learning-model")
    assert model["name"] == "sentiment-tiny"
    # The installed wheel carries its data files: the license knowledge base identified the MIT LICENSE.
    assert bom["metadata"]["component"]["licenses"][0]["license"]["id"] == "MIT"
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import aibom, pathlib; print(pathlib.Path(aibom.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert "site-packages" in installed
    assert (Path(installed) / "_data" / "licenses" / "text-signatures.json").is_file()
    for data_file in ("pipeline_tags.json", "pickles/allowlist.json"):  # data that lives beside its module
        assert (Path(installed) / data_file).is_file(), data_file
