"""CycloneDX JSON assembled from cached per-component fragments (aibom.bom.assemble, aibom.bom.fragments).

The assembled document must be the one cyclonedx-python-lib writes for the whole BOM (only the serial
number differs: it is derived from the assembled text), stay schema-valid, and a rescan must render
only the components whose inputs changed.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hf_fixtures import save_sharded, save_single, tiny_state_dict, write_card, write_json

from aibom import workerproc
from aibom.bom import assemble, cdx_basics, cyclonedx, ml_extensions, render_worker
from aibom.bom.formats import render as render_bom
from aibom.bom.fragments import FILENAME, FragmentCache
from aibom.inventory import Inventory
from aibom.pipeline import ScanOptions, scan_tree
from aibom.policy import engine
from aibom.textsafe import for_json_text

from conftest import run_aibom

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


class _Payload:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned",))


def _project(root: Path) -> Path:
    """Every kind of component, link and finding aibom writes, in one tree."""
    base = root / "models" / "base"
    save_sharded(base, tiny_state_dict(), max_shard_size=200)
    write_json(base / "config.json", {"architectures": ["BertForSequenceClassification"], "model_type": "bert"})
    write_card(base, "license: apache-2.0\ndatasets:\n- imdb\n")
    tuned = root / "models" / "tuned"
    save_single(tuned, tiny_state_dict("float32"))
    write_json(tuned / "config.json", {"architectures": ["BertForSequenceClassification"], "model_type": "bert"})
    write_card(
        tuned,
        "license: apache-2.0\nbase_model: meta-llama/Llama-3.1-8B\ndatasets:\n- local/reviews\n- imdb\n"
        "pipeline_tag: text-classification\n",
    )
    writer = gguf.GGUFWriter(str(root / "models" / "chat.gguf"), "llama")
    writer.add_name("chat")
    writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("w", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    (root / "models" / "unsafe.pkl").write_bytes(pickle.dumps({"w": [1.0], "hook": _Payload()}, protocol=2))
    np.save(root / "models" / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (root / "models" / "big.safetensors").write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 123456789\n"
    )
    data = root / "data" / "reviews"
    data.mkdir(parents=True)
    (data / "train.csv").write_text("text,label\ngood,1\nbad,0\n")
    (data / "test.jsonl").write_text('{"text": "fine", "label": 1}\n')
    write_card(data, "license: cc-by-nc-4.0\npretty_name: Reviews\n", "# Reviews\n")
    (root / "requirements.txt").write_text("torch==2.3.0\nnumpy>=1.26\ntransformers @ git+https://example.com/t\n")
    (root / "LICENSE").write_text("SPDX-License-Identifier: Apache-2.0\n")
    (root / "blob.dat").write_bytes(b"\x00\x01\x02opaque")
    (root / "we\u202eird\x1bname.bin").write_bytes(b"\x00\x01control characters in the name")
    (root / "train.py").write_text("import torch\nm = torch.load('models/unsafe.pkl')\n")
    return root


def _scan(root: Path) -> Inventory:
    inv = scan_tree(root, ScanOptions(use_cache=False))
    engine.openness(inv)
    return inv


def _library_document(inv: Inventory, spec_version: str) -> str:
    """What rendering the whole BOM through cyclonedx-python-lib at once writes (aibom's earlier path)."""
    doc = cyclonedx.library_json(cyclonedx.build_bom(inv), spec_version)
    ml_extensions.add_to_json(doc, ml_extensions.collect(inv.artifacts))
    ml_extensions.sort_occurrences_json(doc)
    head = {k: doc.pop(k) for k in cdx_basics.JSON_HEAD if k in doc}
    return for_json_text(json.dumps(head | doc, indent=2, ensure_ascii=False)) + "\n"


@pytest.mark.parametrize("spec_version", ["1.6", "1.7"])
def test_assembled_document_is_the_libraries_whole_document(
    tmp_path: Path, spec_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    inv = _scan(_project(tmp_path / "proj"))
    kinds = {str(a.kind) for a in inv.artifacts}
    assert kinds == {"model", "dataset", "library", "file"}, kinds
    assert any(a.ancestors for a in inv.artifacts) and any(a.depends_on for a in inv.artifacts)
    assert any(a.parts for a in inv.artifacts)
    assert {f.category for f in inv.findings} >= {"unsafe-code", "integrity"}, inv.findings

    assembled = render_bom(inv, "cyclonedx-json", spec_version)
    serial = json.loads(assembled)["serialNumber"]
    expected = _library_document(inv, spec_version).replace(cdx_basics.ZERO_SERIAL.urn, serial, 1)
    assert assembled == expected
    schema = {"1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}[spec_version]
    assert JsonStrictValidator(schema).validate_str(assembled) is None


def test_empty_tree_matches_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    (tmp_path / "empty").mkdir()
    inv = _scan(tmp_path / "empty")
    assembled = render_bom(inv, "cyclonedx-json", "1.6")
    serial = json.loads(assembled)["serialNumber"]
    assert assembled == _library_document(inv, "1.6").replace(cdx_basics.ZERO_SERIAL.urn, serial, 1)


def test_fragments_are_reused_and_refreshed_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    root = _project(tmp_path / "proj")
    cache_dir = tmp_path / "cache"

    def render(inv: Inventory) -> str:
        fragments = FragmentCache(cache_dir, str(root))
        try:
            return render_bom(inv, "cyclonedx-json", "1.6", fragments)
        finally:
            fragments.close()

    first_inv = _scan(root)
    first = render(first_inv)
    assert first_inv.stats.components_reused == 0 and first_inv.stats.components_rendered == len(first_inv.artifacts)
    again_inv = _scan(root)
    assert render(again_inv) == first
    assert again_inv.stats.components_rendered == 0

    (root / "data" / "reviews" / "train.csv").write_text("text,label\ngood,1\nbad,0\nugly,0\n")
    changed_inv = _scan(root)
    changed = render(changed_inv)
    assert changed == render_bom(_scan(root), "cyclonedx-json", "1.6")  # what an uncached render writes
    # the csv, the dataset that holds it, and the model whose card names the dataset are not affected
    # by the edit alone; only what the edit changes is rendered again
    assert 1 <= changed_inv.stats.components_rendered <= 2, changed_inv.stats
    with sqlite3.connect(cache_dir / FILENAME) as db:
        (rows,) = db.execute("SELECT count(*) FROM fragments").fetchone()
    assert rows == len(changed_inv.artifacts) + 1  # fragments no longer used were dropped; one document head

    # a later run with another timestamp reuses every fragment and the head, and writes what the library would
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    later_inv = _scan(root)
    later = render(later_inv)
    assert later_inv.stats.components_rendered == 0
    assert json.loads(later)["metadata"]["timestamp"] == "2027-01-15T08:00:00+00:00"
    serial = json.loads(later)["serialNumber"]
    assert later == _library_document(later_inv, "1.6").replace(cdx_basics.ZERO_SERIAL.urn, serial, 1)


def test_cli_warm_rescan_renders_nothing_and_writes_the_same_bytes(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    first = run_aibom("scan", str(root), "-v", env=EPOCH)
    second = run_aibom("scan", str(root), "-v", env=EPOCH)
    uncached = run_aibom("scan", str(root), "--no-cache", "-v", env=EPOCH)
    assert first.returncode == second.returncode == uncached.returncode == 0, first.stderr
    assert first.stdout == second.stdout == uncached.stdout
    n = len(json.loads(first.stdout)["components"])
    assert f"aibom: BOM components: {n} rendered, 0 from cache" in first.stderr
    assert f"aibom: BOM components: 0 rendered, {n} from cache" in second.stderr
    assert f"aibom: BOM components: {n} rendered, 0 from cache" in uncached.stderr


def test_damaged_fragment_rows_are_not_trusted(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    cache = tmp_path / "cache"
    env = EPOCH | {"AIBOM_CACHE_DIR": str(cache)}
    first = run_aibom("scan", str(root), "-q", env=env)
    with sqlite3.connect(cache / FILENAME) as db:
        broken = '    {"broken": '
        damage = "UPDATE fragments SET text = ? WHERE key = (SELECT key FROM fragments WHERE key {} LIMIT 1)"
        db.execute(damage.format("LIKE 'head:%'"), (broken,))  # the document head
        db.execute(damage.format("NOT LIKE 'head:%'"), (broken,))  # one component
    damaged = run_aibom("scan", str(root), "-v", env=env)
    assert damaged.returncode == 0, damaged.stderr
    assert damaged.stdout == first.stdout
    assert "1 rendered" in damaged.stderr  # and the document head rendered again

    (cache / FILENAME).write_bytes(b"this is not a database" * 100)
    rebuilt = run_aibom("scan", str(root), "-v", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout == first.stdout
    assert "BOM fragment cache was corrupt and has been rebuilt" in rebuilt.stderr


def test_warm_rescan_loads_neither_the_bom_library_nor_the_schema_validator(tmp_path: Path) -> None:
    """A BOM assembled wholly from cached fragments needs no rendering and no validation: the CLI must not
    pay for importing cyclonedx-python-lib's models and jsonschema (about a quarter of a warm rescan of
    50k files), nor for the commands it does not run."""
    root = _project(tmp_path / "proj")
    env = EPOCH | {"AIBOM_CACHE_DIR": str(tmp_path / "cache")}
    probe = (
        "import sys\n"
        "from aibom.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], standalone_mode=False)\n"
        "finally:\n"
        "    heavy = {'cyclonedx.model', 'jsonschema', 'spdx_tools', 'aibom.fleet', 'aibom.release_cli', 'yaml',\n"
        "             'lxml', 'packaging.requirements'}\n"
        "    loaded = sorted(heavy & set(sys.modules))\n"
        "    print('loaded:', ','.join(loaded), file=sys.stderr)\n"
    )
    args = [sys.executable, "-c", probe, "scan", str(root), "-o", str(tmp_path / "bom.json"), "-v"]
    cold = subprocess.run(args, env=os.environ | env, capture_output=True, text=True, check=True)
    # the cold scan reads cards (YAML) and requirements; JSON output needs no XML validator (lxml)
    assert "loaded: cyclonedx.model,jsonschema,packaging.requirements,yaml\n" in cold.stderr, cold.stderr
    warm = subprocess.run(args, env=os.environ | env, capture_output=True, text=True, check=True)
    assert "0 rendered" in warm.stderr
    assert "loaded: \n" in warm.stderr, warm.stderr
    before = json.loads((tmp_path / "bom.json").read_text())
    assert before["components"]

    # an edit that changes no component (a comment in code) changes only the file and byte counts in the
    # head: those are filled in, the head itself is reused, and the document is what an uncached run writes
    comment = "# a comment that changes no component\n"
    with open(root / "train.py", "a") as fh:
        fh.write(comment)
    edited = subprocess.run(args, env=os.environ | env, capture_output=True, text=True, check=True)
    assert "0 rendered" in edited.stderr and "loaded: \n" in edited.stderr, edited.stderr
    after = (tmp_path / "bom.json").read_text()
    uncached = run_aibom("scan", str(root), "--no-cache", env=EPOCH)
    assert uncached.returncode == 0 and after == uncached.stdout
    props = {p["name"]: p["value"] for p in json.loads(after)["metadata"]["properties"]}
    old = {p["name"]: p["value"] for p in before["metadata"]["properties"]}
    assert int(props["aibom:bytes"]) == int(old["aibom:bytes"]) + len(comment)
    assert props["aibom:files"] == old["aibom:files"]

    # an edited blob is a component rendered again (the library and the validator load), but the parsers of
    # formats no changed file has (YAML cards, requirements) are not loaded with the scanners
    (root / "blob.dat").write_bytes(b"\x00\x01\x02changed")
    blob = subprocess.run(args, env=os.environ | env, capture_output=True, text=True, check=True)
    assert "1 rendered" in blob.stderr and "loaded: cyclonedx.model,jsonschema\n" in blob.stderr, blob.stderr


def test_an_upgrade_of_a_rendering_library_renders_every_component_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fragments are keyed by the libraries that render them, found without importing them: the same
    tree after an upgrade of one of them (here a stand-in package on sys.path) reuses nothing."""
    from aibom.bom import assemble

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    site = tmp_path / "site"
    (site / "aibom_test_renderer").mkdir(parents=True)
    init = site / "aibom_test_renderer" / "__init__.py"
    init.write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(assemble, "_RENDERING_LIBRARIES", (*assemble._RENDERING_LIBRARIES, "aibom_test_renderer"))
    assemble._libraries.cache_clear()
    root = _project(tmp_path / "proj")

    def render() -> Inventory:
        inventory = _scan(root)
        fragments = FragmentCache(tmp_path / "cache", str(root))
        try:
            texts.append(render_bom(inventory, "cyclonedx-json", "1.6", fragments))
        finally:
            fragments.close()
        return inventory

    texts: list[str] = []
    try:
        render()
        assert render().stats.components_rendered == 0  # unchanged libraries: everything reused
        init.write_text("VERSION = 2  # upgraded\n")
        assemble._libraries.cache_clear()  # a new process
        upgraded = render()
        assert upgraded.stats.components_reused == 0
        assert upgraded.stats.components_rendered == len(upgraded.artifacts)
        assert texts[0] == texts[1] == texts[2]  # the same document, rendered again
    finally:
        assemble._libraries.cache_clear()


class _CountingWorkers(render_worker.Workers):
    """The real worker processes, counting the batches they answer."""

    asked = invalid = starts = 0

    def ask(self, request: bytes) -> bytes:
        answer = super().ask(request)
        _CountingWorkers.asked += 1
        _CountingWorkers.invalid += b'"invalid"' in answer
        return answer

    def _take(self) -> workerproc.Worker:
        _CountingWorkers.starts += 1
        return super()._take()


def _in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of two components, all rendered by worker processes (two, whatever this machine's cores)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setattr(assemble, "BATCH", 2)
    monkeypatch.setattr(assemble, "PARALLEL_FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(render_worker, "Workers", _CountingWorkers)
    _CountingWorkers.asked = _CountingWorkers.invalid = _CountingWorkers.starts = 0


@pytest.mark.parametrize("spec_version", ["1.6", "1.7"])
def test_components_rendered_in_worker_processes_are_the_same(
    tmp_path: Path, spec_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_workers(monkeypatch)
    inv = _scan(_project(tmp_path / "proj"))
    assembled = render_bom(inv, "cyclonedx-json", spec_version)
    batches = -(-len(inv.artifacts) // 2)
    assert _CountingWorkers.asked == batches > 4
    serial = json.loads(assembled)["serialNumber"]
    assert assembled == _library_document(inv, spec_version).replace(cdx_basics.ZERO_SERIAL.urn, serial, 1)


def test_workers_that_cannot_start_leave_rendering_to_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = _scan(_project(tmp_path / "proj"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    expected = render_bom(inv, "cyclonedx-json", "1.6")
    _in_workers(monkeypatch)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert render_bom(inv, "cyclonedx-json", "1.6") == expected
    assert _CountingWorkers.asked == 0
    assert 1 <= _CountingWorkers.starts <= 2 < len(inv.artifacts) // 2  # not one doomed start per batch


def test_an_invalid_component_from_a_worker_fails_the_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _in_workers(monkeypatch)
    inv = _scan(_project(tmp_path / "proj"))
    (blob,) = [a for a in inv.artifacts if a.location == "blob.dat"]
    blob.sha256 = "not-a-hash"
    with pytest.raises(cdx_basics.InvalidBom, match="hashes/0/content: 'not-a-hash' does not match"):
        render_bom(inv, "cyclonedx-json", "1.6")
    assert _CountingWorkers.invalid == 1  # the worker's answer, not a second render here


def test_one_process_renders_in_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`processes=1` (what each of scan-many's parallel scans gets on a busy machine) starts no workers."""
    _in_workers(monkeypatch)
    inv = _scan(_project(tmp_path / "proj"))
    one = render_bom(inv, "cyclonedx-json", "1.6", processes=1)
    assert _CountingWorkers.asked == 0
    assert one == render_bom(inv, "cyclonedx-json", "1.6")
    assert _CountingWorkers.asked > 0


_KEY_SCRIPT = """
import sys
from aibom.bom.assemble import fragment_key
from aibom.inventory import Artifact, Evidence, Kind, ModelInfo
name = sys.argv[1].encode("ascii").decode("unicode_escape")  # may hold a lone surrogate
a = Artifact(kind=Kind.MODEL, name=name, ref="path:m", size=int(sys.argv[2]), evidence=[Evidence("m", line=3)],
             model=ModelInfo(parameter_count=7, dtypes={"F16": 7}), properties={"k": "v"})
print(fragment_key(a, {}, {}, ["path:d"], b"salt"))
"""


def _key_in_child(name: str, size: int) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _KEY_SCRIPT, name.encode("unicode_escape").decode("ascii"), str(size)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONHASHSEED": "random"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize(
    ("name", "size"),
    [("model.gguf", 10), ("caf\udce9.gguf", 10), ("model.gguf", 2**70)],  # msgpack, then its pickle fallbacks
)
def test_fragment_keys_are_stable_across_processes_and_follow_every_change(name: str, size: int) -> None:
    """A fragment key is the same in every process for the same artifact (or the cache never hits), and
    differs as soon as anything it is rendered from differs (or the cache serves a stale component)."""
    key = _key_in_child(name, size)
    assert key == _key_in_child(name, size)
    assert len({key, _key_in_child(name + "x", size), _key_in_child(name, size + 1)}) == 3
