"""The command line as a user meets it: help, errors, exit codes, atomic output, progress."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aibom.output import write_atomic

from conftest import run_aibom


def _tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "w.bin").write_bytes(b"\x00\x01weights")
    return root


def test_version_and_help() -> None:
    proc = run_aibom("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("aibom, version ")
    top = run_aibom("--help")
    assert top.returncode == 0 and "scan" in top.stdout
    scan = run_aibom("scan", "--help")
    assert scan.returncode == 0
    for option in ("--output", "--format", "--spec-version", "--exclude", "--no-cache", "--quiet", "--verbose"):
        assert option in scan.stdout
    assert "Exit status" in scan.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "/definitely/not/here"], "aibom: error: path /definitely/not/here does not exist"),
        (["scan", "--format", "pdf", "."], "Invalid value for '--format'"),
        (["scan", "--spec-version", "1.2", "."], "Invalid value for '--spec-version'"),
        (["scan", ".", "-o", "/no/such/folder/bom.json"], "aibom: error: cannot write /no/such/folder/bom.json"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    proc = run_aibom(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    proc = run_aibom("scan", str(tmp_path / "f"))
    assert proc.returncode == 2 and "is a file" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_source_date_epoch(tmp_path: Path) -> None:
    proc = run_aibom("scan", str(_tree(tmp_path)), env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "aibom: error: SOURCE_DATE_EPOCH must be a Unix timestamp, got 'yesterday'"


def test_output_that_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    (target / "bom.json").write_text("GOOD")
    proc = run_aibom("scan", str(_tree(tmp_path / "p")), "-o", str(target))
    assert proc.returncode == 2 and "is a directory" in proc.stderr
    assert (target / "bom.json").read_text() == "GOOD"


def test_output_file_default_stdout_and_quiet(tmp_path: Path) -> None:
    root = _tree(tmp_path / "p")
    proc = run_aibom("scan", str(root))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["bomFormat"] == "CycloneDX"
    assert proc.stderr.startswith("aibom: 1 file (0.0 MiB) scanned; 1 component (1 file)")
    quiet = run_aibom("scan", str(root), "-q")
    assert quiet.stderr == "" and quiet.stdout == proc.stdout.replace(
        json.loads(proc.stdout)["metadata"]["timestamp"], json.loads(quiet.stdout)["metadata"]["timestamp"]
    ).replace(json.loads(proc.stdout)["serialNumber"], json.loads(quiet.stdout)["serialNumber"])


def test_default_path_is_the_current_folder(tmp_path: Path) -> None:
    root = _tree(tmp_path / "here")
    proc = run_aibom("scan", "-q", cwd=root)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["metadata"]["component"]["name"] == "here"


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "bom.cdx.json"
    target.write_text('{"good": true}')

    def chunks():
        yield '{"half": '
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(target, chunks())
    assert target.read_text() == '{"good": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bom.cdx.json"]  # no temp file left behind


def test_atomic_write_replaces_completely(tmp_path: Path) -> None:
    target = tmp_path / "bom.cdx.json"
    target.write_text("x" * 100000)
    write_atomic(target, ["short"])
    assert target.read_text() == "short"
    assert oct(target.stat().st_mode & 0o777) in ("0o644", "0o664", "0o600", "0o640")


def _interrupt_scans(tmp_path: Path, sig: int) -> list[str]:
    """Stop the CLI with `sig` at many points of a run; return the temp files left beside the BOM."""
    root = tmp_path / "p"
    for i in range(400):
        (root / f"d{i % 20}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 20}" / f"{i}.bin").write_bytes(b"\x00" + os.urandom(2000))
    out = tmp_path / "bom.json"
    out.write_text('{"previous": "bom"}')
    env = {**os.environ, "AIBOM_CACHE_DIR": str(tmp_path / "cache")}
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.6, 2.0, 3.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "aibom", "scan", str(root), "-o", str(out), "--no-cache"], env=env
        )
        time.sleep(delay)
        proc.send_signal(sig)
        proc.wait()
        text = out.read_text()
        if text != '{"previous": "bom"}':  # the old BOM, or a complete new one: never a truncated file
            assert json.loads(text)["bomFormat"] == "CycloneDX"
    return [p.name for p in tmp_path.iterdir() if p.name.startswith(".bom.json")]


def test_killed_scan_never_leaves_a_truncated_bom(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: a temp file may stay, but the BOM itself is never half-written."""
    _interrupt_scans(tmp_path, signal.SIGKILL)


def test_terminated_scan_cleans_up_after_itself(tmp_path: Path) -> None:
    assert _interrupt_scans(tmp_path, signal.SIGTERM) == []


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for i in range(30):
        (root / f"{i}").mkdir(parents=True)
        with open(root / f"{i}" / "blob.bin", "wb") as fh:  # sparse: ~1 GiB to hash, so the bar must refresh
            fh.write(b"\x00" + os.urandom(1 << 10))
            fh.truncate(32 << 20)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["AIBOM_CACHE_DIR"] = str(tmp_path / "cache")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aibom", "scan", str(root), "-o", str(tmp_path / "b.json"), "-j", "1"],
        stderr=follower,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    assert b"\raibom: " in seen and b"MiB hashed" in seen
    piped = run_aibom("scan", str(root), "--no-cache")
    assert "\r" not in piped.stderr
    under_ci = run_aibom("scan", str(root), "--no-cache", env={"CI": "true"})
    assert "\r" not in under_ci.stderr


def test_malformed_files_do_not_stop_the_scan(tmp_path: Path) -> None:
    root = _tree(tmp_path / "p")
    (root / "bad.safetensors").write_bytes((1 << 62).to_bytes(8, "little") + b'{"')
    (root / "lfs.bin").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:zz\nsize x\n")
    (root / "requirements.txt").write_text("good==1.0\n!!! not a requirement\n")
    proc = run_aibom("scan", str(root), "-v")
    assert proc.returncode == 0, proc.stderr
    assert "error [unreadable] bad.safetensors: safetensors: declared header length" in proc.stderr
    assert "error [unreadable] lfs.bin: git-lfs-pointer: pointer lacks a valid" in proc.stderr
    assert "warning [unreadable] requirements.txt: line 2: not a requirement pip understands" in proc.stderr
    bom = json.loads(proc.stdout)
    assert any(c["name"] == "good" for c in bom["components"])


def test_names_and_messages_cannot_drive_the_terminal(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    evil = "\x1b]0;pwned\x07\x1b[2J\r\u202eevil.safetensors"
    (root / evil).write_bytes((1 << 62).to_bytes(8, "little") + b'{"')
    proc = run_aibom("scan", str(root), "-v")
    assert proc.returncode == 0
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr and "\u202e" not in proc.stderr
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\u202eevil.safetensors" in proc.stderr
    bom = json.loads(proc.stdout)  # JSON escapes control characters itself
    assert bom["components"][0]["evidence"]["occurrences"][0]["location"] == evil
    xml = run_aibom("scan", str(root), "-q", "--format", "cyclonedx-xml")
    assert xml.returncode == 0, xml.stderr
    assert "\x1b" not in xml.stdout and "\x07" not in xml.stdout
    assert "<location>\\x1b]0;pwned\\x07\\x1b[2J\\x0d\u202eevil.safetensors</location>" in xml.stdout
