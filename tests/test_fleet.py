"""`aibom scan-many`: many repositories in local processes and on a real local Dask cluster."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from aibom.fleet import _store, output_name

from conftest import run_aibom

EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sentiment-demo"


class _Payload:
    """Pickles as a call to os.system: what a malicious model file does on load."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


@pytest.fixture
def fleet(tmp_path: Path) -> dict[str, Path]:
    """A folder of projects (plus an empty folder and a missing path outside it)."""
    projects = tmp_path / "projects"
    shutil.copytree(EXAMPLE, projects / "sentiment")
    model = projects / "st-model"
    model.mkdir(parents=True)
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(model / "model.safetensors"))
    (model / "LICENSE").write_text(
        "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
    )
    evil = projects / "evil"
    evil.mkdir()
    (evil / "model.pkl").write_bytes(pickle.dumps(_Payload(), protocol=4))
    (projects / ".hidden").mkdir()
    (projects / ".hidden" / "x.txt").write_text("hidden\n")
    (projects / "only-dirs" / "sub").mkdir(parents=True)  # no file anywhere: not a project
    empty = tmp_path / "empty"
    empty.mkdir()
    return {
        "projects": projects,
        "sentiment": projects / "sentiment",
        "st-model": model,
        "evil": evil,
        "empty": empty,
        "missing": tmp_path / "does-not-exist",
    }


def _index(out: Path) -> dict[str, Any]:
    return json.loads((out / "index.json").read_text())


def _rows(index: dict[str, Any]) -> list[dict[str, Any]]:
    """The index rows without what varies from run to run (timing, which process ran the task)."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "worker")} for row in index["repositories"]]


def _expected(f: dict[str, Path]) -> list[dict[str, Any]]:
    def ok(key: str, components: int, models: int, errors: int = 0, warnings: int = 0) -> dict[str, Any]:
        name = output_name(str(f[key]))
        return {
            "path": str(f[key]),
            "status": "ok",
            "error": None,
            "bom": name,
            "findings_file": name.replace(".cdx.json", ".findings.json"),
            "components": components,
            "models": models,
            "findings": {"error": errors, "warning": warnings, "info": 0},
            "check_failed": errors > 0,
        }

    missing = {
        "path": str(f["missing"]),
        "status": "error",
        "error": f"path {f['missing']} does not exist",
        "bom": None,
        "findings_file": None,
        "components": 0,
        "models": 0,
        "findings": {"error": 0, "warning": 0, "info": 0},
        "check_failed": None,
    }
    return [
        ok("empty", 0, 0),
        missing,
        ok("evil", 1, 0, errors=1, warnings=1),  # unsafe-code pickle; no license
        ok("sentiment", 8, 1),
        ok("st-model", 1, 1, warnings=3),  # unknown license (twice), no training data
    ]


def _scan_many(f: dict[str, Path], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_aibom(
        "scan-many", str(f["empty"]), str(f["missing"]), "--projects-in", str(f["projects"]),
        "-o", str(out), "--check", *extra, env=EPOCH,
    )  # fmt: skip


def test_local_engine_writes_the_same_boms_as_scan_and_an_exact_index(fleet: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _scan_many(fleet, out, "--jobs", "2")
    assert proc.returncode == 4, proc.stderr  # a repository failed: that wins over the failed check
    assert proc.stderr.splitlines()[-1].startswith(
        "aibom: 5 repositories: 4 scanned, 1 failed; 1 failed the check (--fail-on error); "
    )
    assert f"aibom: {fleet['missing']}: path {fleet['missing']} does not exist" in proc.stderr
    index = _index(out)
    assert {k: index[k] for k in ("engine", "format", "check")} == {
        "engine": "local", "format": "cyclonedx-json", "check": True,
    }  # fmt: skip
    assert _rows(index) == _expected(fleet)
    assert len({row["worker"] for row in index["repositories"]}) >= 1
    assert all(row["worker"].split(":")[1] != str(os.getpid()) for row in index["repositories"])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["index.json"] + [n for r in _expected(fleet) if r["bom"] for n in (r["bom"], r["findings_file"])]
    )
    for key in ("empty", "evil", "sentiment", "st-model"):
        name = output_name(str(fleet[key]))
        alone = tmp_path / f"alone-{key}.cdx.json"
        assert run_aibom("scan", str(fleet[key]), "-q", "-o", str(alone), env=EPOCH).returncode == 0
        assert (out / name).read_bytes() == alone.read_bytes(), key
        valid = run_aibom("validate", str(out / name))
        assert valid.returncode == 0, valid.stdout
    findings = json.loads((out / output_name(str(fleet["evil"])).replace(".cdx.json", ".findings.json")).read_text())
    assert [(x["category"], x["severity"], x["location"]) for x in findings["findings"]] == [
        ("unsafe-code", "error", "model.pkl"),
        ("missing-license", "warning", None),
    ]
    assert findings["summary"]["failed"] is True
    checked = run_aibom("check", str(fleet["evil"]), "--format", "json", env=EPOCH)
    assert checked.returncode == 1
    assert (out / output_name(str(fleet["evil"])).replace(".cdx.json", ".findings.json")).read_text() == checked.stdout


def test_from_file_and_stdin_lists_and_the_check_exit_status(fleet: dict[str, Path], tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# the fleet\n\n{fleet['sentiment']}\n  {fleet['evil']}  \n# {fleet['missing']}\n")
    out = tmp_path / "out"
    proc = run_aibom("scan-many", "--from-file", str(listing), "-o", str(out), "--check", "-j", "1", env=EPOCH)
    assert proc.returncode == 1, proc.stderr  # every repository scanned; the evil one fails the check
    assert [r["path"] for r in _index(out)["repositories"]] == [str(fleet["sentiment"]), str(fleet["evil"])]
    again = subprocess.run(
        [sys.executable, "-m", "aibom", "scan-many", "--from-file", "-", "-o", str(out), "-q"],
        input=f"{fleet['st-model']}\n", capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **EPOCH},
    )  # fmt: skip
    assert (again.returncode, again.stderr) == (0, "")
    assert [r["check_failed"] for r in _index(out)["repositories"]] == [None]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "aibom: error: no repositories to scan (give PATHS, --projects-in DIR or --from-file LIST)"),
        (("x", "--engine", "dask"), "aibom: error: --engine dask needs --scheduler ADDRESS (a running dask scheduler)"),
        (("x", "--scheduler", "tcp://127.0.0.1:1"), "aibom: error: --scheduler is for --engine dask"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = run_aibom("scan-many", "-o", str(tmp_path / "out"), *args)
    assert (proc.returncode, proc.stderr.strip()) == (2, message)
    assert not (tmp_path / "out").exists()


def test_missing_dask_says_how_to_install_it(tmp_path: Path) -> None:
    code = "import sys; sys.modules['distributed'] = None; from aibom.cli import run; run()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "scan-many", str(tmp_path), "-o", str(tmp_path / "out"),
         "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stderr.strip()) == (
        2, "aibom: error: --engine dask needs Dask: pip install 'aibom[dask]'"
    )  # fmt: skip


def _dask(*args: str) -> list[str]:
    return [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, set[int]]]:
    """A real Dask scheduler and two single-thread workers as separate processes; (address, worker pids)."""
    from distributed import Client

    info = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Any] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"dask-{len(procs)}.log", "wb")  # noqa: SIM115 (closed in the fixture's finally)
        logs.append(log)
        proc = subprocess.Popen(_dask(*args), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info))
        deadline = time.monotonic() + 40
        while not (info.exists() and info.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        worker_args = ("--nthreads", "1", "--nworkers", "1", "--no-nanny", "--no-dashboard", "--death-timeout", "60")
        workers = {start("worker", address, *worker_args).pid for _ in range(2)}
        with Client(address, timeout=40, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=40)
        yield address, workers
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for log in logs:
            log.close()


def test_dask_engine_runs_the_tasks_on_the_workers_and_writes_the_same_boms(
    fleet: dict[str, Path], tmp_path: Path, dask_cluster: tuple[str, set[int]]
) -> None:
    address, worker_pids = dask_cluster
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert _scan_many(fleet, local, "--jobs", "1").returncode == 4
    proc = _scan_many(fleet, remote, "--engine", "dask", "--scheduler", address)
    assert proc.returncode == 4, proc.stderr
    index = _index(remote)
    assert index["engine"] == "dask"
    assert _rows(index) == _rows(_index(local)) == _expected(fleet)
    ran_on = {row["worker"] for row in index["repositories"]}
    assert {w.split(":")[0] for w in ran_on} == {socket.gethostname()}
    assert {int(w.split(":")[1]) for w in ran_on} <= worker_pids
    for row in index["repositories"]:
        if row["bom"]:
            assert (remote / row["bom"]).read_bytes() == (local / row["bom"]).read_bytes()
            assert (remote / row["findings_file"]).read_bytes() == (local / row["findings_file"]).read_bytes()


def test_one_policy_for_every_repository(fleet: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text('[rules]\npickle-unsafe-import = "warning"\n')
    proc = run_aibom(
        "scan-many", str(fleet["evil"]), "-o", "out", "--check", "--policy", "policy.toml", cwd=tmp_path, env=EPOCH
    )
    assert proc.returncode == 0, proc.stderr
    [row] = _index(tmp_path / "out")["repositories"]
    assert (row["findings"], row["check_failed"]) == ({"error": 0, "warning": 2, "info": 0}, False)
    (tmp_path / "bad.toml").write_text("[rules\n")
    bad = run_aibom("scan-many", str(fleet["evil"]), "-o", "out2", "--check", "--policy", "bad.toml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("aibom: error: ") and len(bad.stderr.splitlines()) == 1
    assert not (tmp_path / "out2").exists()


def test_output_names_are_deterministic_and_distinct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "x" / "repo", tmp_path / "y" / "repo"
    assert output_name("x/repo") == output_name(str(a)) == output_name(str(a) + "/")
    assert output_name(str(a)) != output_name(str(b))
    assert output_name(str(a)).startswith("repo-") and output_name(str(a)).endswith(".cdx.json")
    assert output_name(str(a), "spdx3-json").endswith(".spdx3.jsonld")
    odd = output_name(str(tmp_path / "..hidden name;\x1b[31m"), "cyclonedx-xml")
    assert re.fullmatch(r"hidden_name_31m-[0-9a-f]{10}\.cdx\.xml", odd), odd


def test_a_lost_or_odd_task_result_is_an_error_row(tmp_path: Path) -> None:
    lost = _store("/r", RuntimeError("worker\nkilled"), tmp_path, "cyclonedx-json")
    assert (lost.status, lost.error, lost.bom) == ("error", "task failed: worker killed", None)
    assert _store("/r", None, tmp_path, "cyclonedx-json").error == "unexpected task result: NoneType"
    no_bom = _store("/r", {"path": "/r", "status": "ok"}, tmp_path, "cyclonedx-json")
    assert (no_bom.status, no_bom.error) == ("error", "unexpected task result: no BOM text")
    assert list(tmp_path.iterdir()) == []


def test_tasks_in_threads_of_one_worker_keep_their_own_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dask worker runs several tasks in one process: each BOM carries its own client's SOURCE_DATE_EPOCH,
    passed to the writer, never through the shared process environment (which stays as it was)."""
    from concurrent.futures import ThreadPoolExecutor

    from aibom.fleet import scan_one

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    repos = []
    for i in range(6):
        repo = tmp_path / f"repo{i}"
        repo.mkdir()
        (repo / "weights.bin").write_bytes(bytes([i]) * 128)
        repos.append(str(repo))
    epochs = [None if i == 0 else str(1_700_000_000 + i * 86_400) for i in range(6)]
    options = [{"use_cache": False, "source_date_epoch": e} for e in epochs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(scan_one, repos, options))
    assert os.environ["SOURCE_DATE_EPOCH"] == "1600000000"
    for epoch, result in zip(epochs, results, strict=True):
        assert result["status"] == "ok", result
        stamp = json.loads(result["bom_text"])["metadata"]["timestamp"]
        if epoch is None:  # the client had none: now, not the worker's own variable
            assert not stamp.startswith("2020-09-13"), stamp
        else:
            expected = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(epoch)))
            assert stamp == expected, (epoch, stamp)
