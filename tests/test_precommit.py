"""The pre-commit hooks, run by the real `pre-commit` in real git repositories.

The hook repository is a snapshot of this checkout's working tree, committed in a temp folder, so the tests
exercise the code under test (not the last commit). PRE_COMMIT_HOME is shared by the session, so pre-commit
builds the hook's virtualenv (pip, from the configured package index) once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from conftest import REPO, copy_checkout

PRE_COMMIT = shutil.which("pre-commit")
# A pickle whose only call is os.system: the bytes are written, never loaded.
EVIL_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."
MIT_TEXT = (REPO / "licenses" / "texts" / "MIT.txt").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(
    PRE_COMMIT is None and not os.environ.get("CI"), reason="pre-commit is in the test extra"
)


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check, timeout=120)


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this checkout's working tree, and its commit."""
    snapshot = tmp_path_factory.mktemp("hook-repo") / "aibom"
    copy_checkout(snapshot)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    _git(snapshot, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "snapshot")
    return snapshot, _git(snapshot, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def env(pre_commit_home: Path) -> dict[str, str]:
    full = dict(os.environ)  # AIBOM_CACHE_DIR from the autouse fixture reaches the hook
    full.pop("SOURCE_DATE_EPOCH", None)
    full.update(
        PRE_COMMIT_HOME=str(pre_commit_home),
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
        PRE_COMMIT_COLOR="never",
    )
    return full


def _project(tmp_path: Path, hook_repo: tuple[Path, str], *hook_ids: str) -> Path:
    """A git repo with a README, an MIT LICENSE and a pre-commit config using `hook_ids`."""
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "README.md").write_text("# demo\n", encoding="utf-8")
    (root / "LICENSE").write_text(MIT_TEXT, encoding="utf-8")
    repo, rev = hook_repo
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": [{"id": hook} for hook in hook_ids]}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command in `root`; stdout holds its stderr too (git prints hook output there)."""
    return subprocess.run(
        args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )


def _commit(root: Path, env: dict[str, str], message: str, *paths: str) -> subprocess.CompletedProcess[str]:
    _git(root, "add", *(paths or (".",)))
    return _run(root, env, "git", "commit", "-q", "-m", message)


def _commits(root: Path) -> int:
    done = _git(root, "rev-list", "--count", "HEAD", check=False)
    return int(done.stdout) if done.returncode == 0 else 0


def _weights(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, str(path))


def test_hooks_manifest() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"aibom-check", "aibom-bom"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["require_serial"] is True
    files = re.compile(hooks["aibom-check"]["files"])
    wanted = ("model.safetensors", "m/x.GGUF", "w.pt", "data/train.parquet", "requirements-dev.txt")
    wanted += ("pyproject.toml", "LICENSE", "sub/LICENSE.md", "README.md", "m/config.json", "aibom.toml")
    for name in wanted:
        assert files.search(name), name
    for name in ("src/app.py", "notes.txt", "Makefile", "docs/index.rst"):
        assert not files.search(name), name


def test_check_hook_passes_a_clean_commit_and_blocks_an_unsafe_model(
    tmp_path: Path, hook_repo: tuple[Path, str], env: dict[str, str]
) -> None:
    root = _project(tmp_path, hook_repo, "aibom-check")
    installed = _run(root, env, "pre-commit", "install")
    assert installed.returncode == 0, installed.stdout
    _weights(root / "models" / "model.safetensors")
    clean = _commit(root, env, "add weights")
    assert clean.returncode == 0, clean.stdout
    assert "aibom check" in clean.stdout and "Passed" in clean.stdout
    assert _commits(root) == 1

    (root / "models" / "model.pkl").write_bytes(EVIL_PICKLE)
    blocked = _commit(root, env, "add a pickle")
    assert blocked.returncode == 1
    out = blocked.stdout
    assert "Failed" in out and "- exit code: 1" in out
    assert "models/model.pkl" in out
    assert "error [pickle-unsafe-import] pickle: os.system called via GLOBAL" in out
    assert "fix: Do not load this file with pickle" in out
    assert "1 error, 1 warning" in out and "FAILED" in out
    assert "\x1b[" not in out  # the text report is plain under pre-commit (not a terminal)
    assert _commits(root) == 1


def test_check_hook_gate_follows_fail_on_in_args(
    tmp_path: Path, hook_repo: tuple[Path, str], env: dict[str, str]
) -> None:
    """Weights without training-data provenance are a warning: passed by default, blocked by --fail-on warning."""
    root = _project(tmp_path, hook_repo, "aibom-check")
    _weights(root / "model.safetensors")
    _git(root, "add", ".")
    assert _run(root, env, "pre-commit", "run").returncode == 0
    repo, rev = hook_repo
    hook = {"id": "aibom-check", "args": [".", "--fail-on", "warning"]}
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": [hook]}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    _git(root, "add", ".")
    done = _run(root, env, "pre-commit", "run")
    assert done.returncode == 1
    assert "0 errors, 1 warning" in done.stdout and "FAILED" in done.stdout
    assert "model.safetensors" in done.stdout


def test_check_hook_skips_commits_without_model_data_or_license_files(
    tmp_path: Path, hook_repo: tuple[Path, str], env: dict[str, str]
) -> None:
    root = _project(tmp_path, hook_repo, "aibom-check")
    (root / "model.pkl").write_bytes(EVIL_PICKLE)
    _git(root, "add", ".")
    _git(root, "commit", "-q", "--no-verify", "-m", "unchecked")
    _run(root, env, "pre-commit", "install")
    (root / "app.py").write_text("print('hi')\n", encoding="utf-8")
    done = _commit(root, env, "code only", "app.py")
    assert done.returncode == 0, done.stdout
    assert re.search(r"aibom check .*\(no files to check\)Skipped", done.stdout)
    assert _commits(root) == 2


def test_bom_hook_fails_once_when_stale_then_passes(
    tmp_path: Path, hook_repo: tuple[Path, str], env: dict[str, str]
) -> None:
    root = _project(tmp_path, hook_repo, "aibom-bom")
    _run(root, env, "pre-commit", "install")
    _weights(root / "model.safetensors")
    first = _commit(root, env, "first")
    assert first.returncode == 1
    assert "aibom-bom: bom.cdx.json written; review it and `git add bom.cdx.json`." in first.stdout
    assert _commits(root) == 0
    bom = json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))
    assert bom["specVersion"] == "1.6"
    assert "model" in {c["name"] for c in bom["components"]}
    assert all(c["name"] != "bom.cdx.json" for c in bom["components"])

    second = _commit(root, env, "first")
    assert second.returncode == 0, second.stdout
    assert _commits(root) == 1
    committed = (root / "bom.cdx.json").read_text(encoding="utf-8")
    # Running again on an unchanged tree changes nothing, even much later: the timestamp is reused.
    assert _run(root, env, "pre-commit", "run", "--all-files").returncode == 0
    assert (root / "bom.cdx.json").read_text(encoding="utf-8") == committed

    _weights(root / "second.safetensors")
    stale = _commit(root, env, "second")
    assert stale.returncode == 1
    assert "aibom-bom: bom.cdx.json updated" in stale.stdout
    updated = json.loads((root / "bom.cdx.json").read_text(encoding="utf-8"))
    assert {"model", "second"} <= {c["name"] for c in updated["components"]}
    assert updated["serialNumber"] != bom["serialNumber"]
    assert _commit(root, env, "second").returncode == 0
    assert _commits(root) == 2


def test_try_repo_against_the_checkout(tmp_path: Path, hook_repo: tuple[Path, str], env: dict[str, str]) -> None:
    """`pre-commit try-repo` (what the README suggests for a first look) runs the check hook on all files."""
    root = _project(tmp_path, hook_repo, "aibom-check")
    (root / "model.pkl").write_bytes(EVIL_PICKLE)
    _git(root, "add", ".")
    repo, rev = hook_repo
    done = _run(root, env, "pre-commit", "try-repo", str(repo), "aibom-check", "--ref", rev, "--all-files")
    assert done.returncode == 1
    assert "error [pickle-unsafe-import]" in done.stdout and "model.pkl" in done.stdout
