"""Dataset files made by the real libraries (pyarrow, tfrecord, webdataset), read back from headers."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import tarfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import tfrecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import scan_bom
from webdataset import TarWriter

from aibom.datasets import arrow, parquet, tar
from aibom.datasets import tfrecord as tfr
from aibom.datasets.facts import FormatError
from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe

from conftest import findings_of, prop

TABLE = pa.table(
    {
        "text": ["good", "bad", "fine", "meh", "great"],
        "label": [2, 0, 1, 1, 2],
        "meta": [{"len": 4, "tags": ["a"]}] * 5,
    }
)


def components(bom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in bom["components"]}


def dataset_props(comp: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in comp["data"][0]["contents"]["properties"]}


def probe_of(path: Path, root: Path) -> Probe:
    return Probe.from_file(path.relative_to(root).as_posix(), str(path), str(root))[0]


# --- Parquet, Arrow, TFRecord, WebDataset, CSV/JSONL --------------------------------------------


def test_parquet_footer(tmp_path: Path) -> None:
    table = TABLE.replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": {"text": {}, "label": {}}}})}
    )
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=2)
    comp = components(scan_bom(tmp_path))["path:train.parquet"]
    assert comp["type"] == "data"
    assert prop(comp, "aibom:format") == "parquet"
    assert prop(comp, "aibom:dataset:rows") == "5"
    assert prop(comp, "aibom:dataset:columns") == "text,label,meta"
    assert prop(comp, "aibom:dataset:column-count") == "3"
    assert prop(comp, "aibom:dataset:row-groups") == "3"
    assert prop(comp, "aibom:dataset:features") == "text,label"
    assert prop(comp, "aibom:dataset:created-by").startswith("parquet-cpp-arrow version ")
    assert comp["data"][0]["name"] == "train.parquet"
    assert dataset_props(comp)["aibom:dataset:rows"] == "5"
    assert comp["hashes"][0]["content"] == hashlib.sha256((tmp_path / "train.parquet").read_bytes()).hexdigest()


def test_parquet_reads_only_the_footer(tmp_path: Path) -> None:
    big = pa.table({"x": pa.array(range(400_000), pa.int64())})
    pq.write_table(big, tmp_path / "big.parquet", compression="none")
    probe = probe_of(tmp_path / "big.parquet", tmp_path)
    reads: list[int] = []
    original = probe.read

    def counting(offset: int, length: int) -> bytes:
        reads.append(length)
        return original(offset, length)

    probe.read = counting  # type: ignore[method-assign]
    facts = parquet.read_parquet(probe)
    assert facts.rows == 400_000
    assert probe.size > 3_000_000 and sum(reads) < 10_000


def test_file_in_a_hub_cache_folder_gets_the_hub_id(tmp_path: Path) -> None:
    snapshot = tmp_path / "datasets--stanfordnlp--imdb" / "snapshots" / "e6281661" / "plain_text"
    snapshot.mkdir(parents=True)
    pq.write_table(TABLE, snapshot / "train-00000-of-00001.parquet")
    comp = next(iter(components(scan_bom(tmp_path)).values()))
    assert prop(comp, "aibom:dataset:id") == "stanfordnlp/imdb"


def test_arrow_file_stream_and_feather(tmp_path: Path) -> None:
    with pa.OSFile(str(tmp_path / "data.arrow"), "wb") as sink, pa.ipc.new_file(sink, TABLE.schema) as writer:
        writer.write_table(TABLE, max_chunksize=2)
    # the layout `datasets.save_to_disk` writes: an IPC stream
    stream = tmp_path / "data-00000-of-00001.arrow"
    with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, TABLE.schema) as writer:
        writer.write_table(TABLE)
        writer.write_table(TABLE)
    feather.write_feather(TABLE, tmp_path / "table.feather")
    comps = components(scan_bom(tmp_path))
    facts = {
        ref: (prop(c, "aibom:format"), prop(c, "aibom:dataset:rows"), prop(c, "aibom:dataset:record-batches"),
              prop(c, "aibom:dataset:columns"))
        for ref, c in comps.items()
    }  # fmt: skip
    assert facts == {
        "path:data.arrow": ("arrow-file", "5", "3", "text,label,meta"),
        "path:data-00000-of-00001.arrow": ("arrow-stream", "10", "2", "text,label,meta"),
        "path:table.feather": ("arrow-file", "5", "1", "text,label,meta"),
    }


def test_tfrecord(tmp_path: Path) -> None:
    writer = tfrecord.TFRecordWriter(str(tmp_path / "train.tfrecord"))
    for i in range(7):
        writer.write({"label": (i, "int"), "image": (b"\x00" * (i * 100), "byte")})
    writer.close()
    comp = components(scan_bom(tmp_path))["path:train.tfrecord"]
    assert (prop(comp, "aibom:format"), prop(comp, "aibom:dataset:rows")) == ("tfrecord", "7")


def test_crc32c_check_value() -> None:
    assert tfr.crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value


def test_webdataset_shard_and_plain_tar(tmp_path: Path) -> None:
    with TarWriter(str(tmp_path / "shard-000000.tar")) as sink:
        for i in range(4):
            sink.write({"__key__": f"sample{i:04d}", "png": b"\x89PNG" + bytes([i]), "json": {"label": i}, "cls": i})
    with tarfile.open(tmp_path / "backup.tar", "w") as tf:
        info = tarfile.TarInfo("notes.md")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    comps = components(scan_bom(tmp_path))
    shard = comps["path:shard-000000.tar"]
    assert shard["type"] == "data"
    assert prop(shard, "aibom:format") == "webdataset"
    assert prop(shard, "aibom:dataset:rows") == "4"
    assert prop(shard, "aibom:dataset:extensions") == "cls,json,png"
    assert prop(shard, "aibom:dataset:members") == "12"
    plain = comps["path:backup.tar"]
    assert (plain["type"], prop(plain, "aibom:format")) == ("file", "tar")


def test_csv_tsv_jsonl_and_json_records(tmp_path: Path) -> None:
    (tmp_path / "reviews.csv").write_text(
        'text,label\n"line one\nline two",pos\nplain,neg\n"with ""quotes""",neu\n', encoding="utf-8"
    )
    (tmp_path / "pairs.tsv").write_text("q\ta\tsource\n1\t2\tx\n3\t4\ty\n", encoding="utf-8")
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps({"prompt": i, "answer": -i}) + "\n" for i in range(9)))
    (tmp_path / "records.json").write_text(json.dumps([{"id": 1, "x": 2}, {"id": 2, "x": 3}]), encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}), encoding="utf-8")
    comps = components(scan_bom(tmp_path))
    got = {ref: (prop(c, "aibom:format"), prop(c, "aibom:dataset:rows"), prop(c, "aibom:dataset:columns"))
           for ref, c in comps.items()}  # fmt: skip
    assert got == {
        "path:reviews.csv": ("csv", "3", "text,label"),
        "path:pairs.tsv": ("tsv", "2", "q,a,source"),
        "path:chat.jsonl": ("jsonl", "9", "prompt,answer"),
        "path:records.json": ("json-records", None, None),
    }


# --- media folders -------------------------------------------------------------------------------


def make_images(folder: Path, count: int, seed: int) -> None:
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        (folder / f"{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(64))


def expected_aggregate(folder: Path) -> str:
    lines = sorted(
        f"{p.relative_to(folder).as_posix()}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in folder.rglob("*.png")
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def test_image_folder_is_one_dataset_with_a_stable_aggregate_hash(tmp_path: Path) -> None:
    make_images(tmp_path / "data" / "pets" / "train" / "cat", 7, 1)
    make_images(tmp_path / "data" / "pets" / "train" / "dog", 5, 2)
    make_images(tmp_path / "data" / "pets" / "val" / "cat", 3, 3)
    make_images(tmp_path / "docs" / "img", 3, 4)  # a few pictures: not a dataset
    (tmp_path / "data" / "pets" / "LICENSE").write_text("SPDX-License-Identifier: CC-BY-SA-4.0\n", encoding="utf-8")
    bom = scan_bom(tmp_path)
    comps = components(bom)
    assert list(comps) == ["path:data/pets/"]
    pets = comps["path:data/pets/"]
    assert pets["type"] == "data"
    assert pets["evidence"]["occurrences"] == [{"location": "data/pets/"}]
    assert prop(pets, "aibom:dataset:files") == "15"
    assert prop(pets, "aibom:dataset:media") == "png=15"
    assert prop(pets, "aibom:dataset:bytes") == str(15 * 72)
    assert prop(pets, "aibom:dataset:id") == "pets"
    assert pets["hashes"] == [{"alg": "SHA-256", "content": expected_aggregate(tmp_path / "data" / "pets")}]
    assert pets["licenses"] == [{"license": {"id": "CC-BY-SA-4.0", "acknowledgement": "concluded"}}]
    assert next(d for d in bom["dependencies"] if d["ref"] == "aibom:root")["dependsOn"] == ["path:data/pets/"]
    # the same content elsewhere has the same aggregate hash
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path / "data" / "pets", moved / "datasets--acme--pets")
    again = components(scan_bom(moved))["path:datasets--acme--pets/"]
    assert again["hashes"] == pets["hashes"]
    assert prop(again, "aibom:dataset:id") == "acme/pets"


# --- dataset metadata ----------------------------------------------------------------------------

CARD = """\
---
license:
- cc-by-4.0
- other
license_name: Acme Data Terms
license_link: https://example.org/terms
pretty_name: Acme Reviews
task_categories:
- text-classification
size_categories:
- 10K<n<100K
source_datasets:
- stanfordnlp/imdb
configs:
- config_name: default
  data_files: data/*.parquet
dataset_info:
  splits:
  - name: train
    num_examples: 900
  - name: test
    num_examples: 100
---
# Acme Reviews
"""


def test_dataset_card_describes_its_folder(tmp_path: Path) -> None:
    ds = tmp_path / "datasets" / "acme-reviews"
    (ds / "data").mkdir(parents=True)
    (ds / "README.md").write_text(CARD, encoding="utf-8")
    pq.write_table(TABLE, ds / "data" / "train.parquet")
    (tmp_path / "LICENSE").write_text("SPDX-License-Identifier: MIT\n", encoding="utf-8")
    model = tmp_path / "models" / "m"
    model.mkdir(parents=True)
    (model / "README.md").write_text(
        "---\nlicense: mit\npipeline_tag: text-classification\ndatasets:\n- acme-reviews\n---\n"
    )
    bom = scan_bom(tmp_path)
    comps = components(bom)
    card = comps["dataset:datasets/acme-reviews"]
    assert card["type"] == "data"
    assert card["name"] == "acme-reviews"
    assert card["licenses"] == [
        {"license": {"id": "CC-BY-4.0", "acknowledgement": "declared"}},
        {"license": {"name": "Acme Data Terms", "url": "https://example.org/terms", "acknowledgement": "declared"}},
    ]
    props = dataset_props(card)
    assert props["aibom:dataset:id"] == "acme-reviews"
    assert props["aibom:dataset:name"] == "Acme Reviews"
    assert props["aibom:dataset:rows"] == "1000"
    assert props["aibom:dataset:task-categories"] == "text-classification"
    assert props["aibom:dataset:configs"] == "default"
    assert prop(card, "aibom:provenance:source-dataset") == "stanfordnlp/imdb"
    part = comps["path:datasets/acme-reviews/data/train.parquet"]
    assert prop(part, "aibom:dataset:part-of") == "dataset:datasets/acme-reviews"
    # the card's licenses, not the root's MIT, govern the files in its folder
    assert part["licenses"] == [{"license": {"name": "CC-BY-4.0 AND Acme Data Terms", "acknowledgement": "concluded"}}]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps["dataset:datasets/acme-reviews"] == ["path:datasets/acme-reviews/data/train.parquet"]
    assert "dataset:datasets/acme-reviews" in deps["aibom:root"]
    # a model card is not a dataset card
    assert not any(ref.startswith("dataset:models") for ref in comps)


def test_save_to_disk_folder(tmp_path: Path) -> None:
    folder = tmp_path / "hf_disk"
    folder.mkdir()
    stream = folder / "data-00000-of-00001.arrow"
    with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, TABLE.schema) as writer:
        writer.write_table(TABLE)
    (folder / "dataset_info.json").write_text(
        json.dumps(
            {
                "dataset_name": "imdb",
                "description": "Movie reviews.",
                "license": "other",
                "homepage": "https://ai.stanford.edu/",
                "features": {"text": {"dtype": "string"}, "label": {"dtype": "int64"}},
                "splits": {"train": {"name": "train", "num_examples": 5, "num_bytes": 100}},
            }
        ),
        encoding="utf-8",
    )
    (folder / "state.json").write_text(
        json.dumps(
            {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_fingerprint": "ab12", "_split": "train"}
        ),
        encoding="utf-8",
    )
    comps = components(scan_bom(tmp_path))
    ds = comps["dataset:hf_disk"]
    assert ds["description"] == "Movie reviews."
    props = dataset_props(ds)
    assert (props["aibom:dataset:name"], props["aibom:dataset:rows"], props["aibom:dataset:split"]) == (
        "imdb",
        "5",
        "train",
    )
    assert props["aibom:dataset:features"] == "text,label"
    assert props["aibom:dataset:fingerprint"] == "ab12"
    assert prop(ds, "aibom:provenance:homepage") == "https://ai.stanford.edu/"
    assert sorted(o["location"] for o in ds["evidence"]["occurrences"]) == [
        "hf_disk/dataset_info.json",
        "hf_disk/state.json",
    ]
    assert prop(comps["path:hf_disk/data-00000-of-00001.arrow"], "aibom:dataset:part-of") == "dataset:hf_disk"


def test_croissant_and_datapackage(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "croissant.json").write_text(
        json.dumps(
            {
                "@context": {"@vocab": "https://schema.org/", "cr": "http://mlcommons.org/croissant/"},
                "@type": "sc:Dataset",
                "name": "mnist",
                "description": "Digits.",
                "license": "https://creativecommons.org/licenses/by-sa/3.0/",
                "url": "https://huggingface.co/datasets/ylecun/mnist",
                "distribution": [{"@type": "cr:FileObject", "name": "repo"}],
                "recordSet": [{"@type": "cr:RecordSet", "name": "default"}],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "datapackage.json").write_text(
        json.dumps(
            {
                "name": "gdp",
                "title": "Country GDP",
                "licenses": [{"name": "ODC-PDDL-1.0", "path": "http://opendatacommons.org/licenses/pddl/"}],
                "resources": [{"name": "gdp", "path": "data/gdp.csv", "format": "csv"}],
                "sources": [{"title": "World Bank", "path": "http://data.worldbank.org/"}],
            }
        ),
        encoding="utf-8",
    )
    comps = components(scan_bom(tmp_path))
    cro = comps["dataset:c"]
    assert cro["licenses"] == [{"license": {"id": "CC-BY-SA-3.0", "acknowledgement": "declared"}}]
    assert prop(cro, "aibom:dataset:id") == "ylecun/mnist"
    assert prop(cro, "aibom:dataset:record-sets") == "default"
    pkg = comps["dataset:p"]
    assert pkg["licenses"] == [{"license": {"id": "PDDL-1.0", "acknowledgement": "declared"}}]
    assert prop(pkg, "aibom:dataset:name") == "Country GDP"
    assert prop(pkg, "aibom:provenance:source") == "http://data.worldbank.org/"


def test_dvc_outputs_without_the_data(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(
        "[core]\n    remote = storage\n['remote \"storage\"']\n    url = s3://acme-ml/dvcstore\n", encoding="utf-8"
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "images.dvc").write_text(
        "outs:\n- md5: 5f0d6c1b2a5e4e0f0b0a3c9c2d1e7f60.dir\n  size: 52428800\n  nfiles: 1200\n"
        "  hash: md5\n  path: images\n",
        encoding="utf-8",
    )
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  prepare:\n    cmd: python prepare.py\n    outs:\n"
        "    - path: data/prepared.csv\n      hash: md5\n      md5: 0cc175b9c0f1b6a831c399e269772661\n      size: 1\n"
        "    - path: models/model.pkl\n      md5: 92eb5ffee6ae2fec3ad71c777531578f\n",
        encoding="utf-8",
    )
    (tmp_path / "data" / "prepared.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    comps = components(scan_bom(tmp_path))
    images = comps["dataset:data/images"]
    assert images["type"] == "data"
    assert prop(images, "aibom:dataset:dvc-md5") == "5f0d6c1b2a5e4e0f0b0a3c9c2d1e7f60.dir"
    assert prop(images, "aibom:dataset:dvc-files") == "1200"
    assert prop(images, "aibom:provenance:dvc-remote") == "s3://acme-ml/dvcstore"
    assert prop(images, "aibom:dataset:id") == "images"
    # a tracked file that is present is one component with both the content and the DVC facts
    prepared = comps["path:data/prepared.csv"]
    assert "dataset:data/prepared.csv" not in comps
    assert {h["alg"]: h["content"] for h in prepared["hashes"]} == {
        "SHA-256": hashlib.sha256(b"a,b\n1,2\n").hexdigest(),
        "MD5": "0cc175b9c0f1b6a831c399e269772661",
    }
    assert prop(prepared, "aibom:dataset:dvc-stage") == "prepare"
    assert not any("model.pkl" in ref for ref in comps)


# --- hostile input --------------------------------------------------------------------------------


def _bytes_of(make) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    make(buf)
    return buf.getvalue()


def _arrow_file(buf: io.BytesIO) -> None:
    with pa.ipc.new_file(buf, TABLE.schema) as w:
        w.write_table(TABLE, max_chunksize=2)


def _arrow_stream(buf: io.BytesIO) -> None:
    with pa.ipc.new_stream(buf, TABLE.schema) as w:
        w.write_table(TABLE, max_chunksize=2)


def _tar(buf: io.BytesIO) -> None:
    with TarWriter(buf) as sink:
        for i in range(3):
            sink.write({"__key__": f"k{i}", "txt": f"t{i}", "cls": i})


VALID: dict[str, bytes] = {
    "a.parquet": _bytes_of(lambda b: pq.write_table(TABLE, b, row_group_size=2)),
    "a.arrow": _bytes_of(_arrow_file),
    "s.arrow": _bytes_of(_arrow_stream),
    "a-000.tar": _bytes_of(_tar),
    "a.csv": b'text,label\n"x\ny",1\nz,2\n',
    "a.jsonl": b'{"a": 1}\n{"a": 2}\n',
    "README.md": CARD.encode(),
    "dataset_info.json": json.dumps({"splits": {"train": {"num_examples": 3}}, "license": "mit"}).encode(),
    "croissant.json": json.dumps(
        {"@context": "http://mlcommons.org/croissant/", "name": "x", "license": "mit"}
    ).encode(),
    "x.dvc": b"outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: x\n",
}


def _tfrecord_bytes(tmp: Path) -> bytes:
    writer = tfrecord.TFRecordWriter(str(tmp / "t.tfrecord"))
    for i in range(3):
        writer.write({"x": (i, "int")})
    writer.close()
    return (tmp / "t.tfrecord").read_bytes()


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> ScanOutput:
    path = tmp_path / name
    path.write_bytes(data)
    probe = probe_of(path, tmp_path)
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([*sorted(VALID), "t.tfrecord"]), st.integers(0, 5000), st.binary(max_size=12), st.integers(0, 5000)
)
def test_mutated_dataset_files_end_parsed_or_unreadable(
    tmp_path: Path, name: str, at: int, junk: bytes, cut: int
) -> None:
    data = _tfrecord_bytes(tmp_path) if name == "t.tfrecord" else VALID[name]
    at %= len(data) + 1
    mutated = (data[:at] + junk + data[at + len(junk) :])[: cut or None]
    start = time.monotonic()
    out = scan_bytes(tmp_path, name, mutated)
    assert time.monotonic() - start < 2.0
    assert all(f.category == "unreadable" for f in out.findings)


def _u32(n: int) -> bytes:
    return struct.pack("<I", n)


def _schema_message() -> bytes:
    """The first message (the schema) of a real Arrow IPC stream."""
    data = VALID["s.arrow"]
    (length,) = struct.unpack_from("<i", data, 4)
    return data[: 8 + length]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("huge-footer.parquet", b"PAR1" + b"\x00" * 32 + _u32(0xFFFFFF00) + b"PAR1"),
        # a footer whose schema list claims 2^31 elements
        ("huge-list.parquet", b"PAR1" + b"\x19\xfc\xff\xff\xff\x07\x00" + _u32(7) + b"PAR1"),
        # structs nested 100,000 deep
        ("deep.parquet", b"PAR1" + b"\x1c" * 100_000 + _u32(100_000) + b"PAR1"),
        ("truncated.arrow", b"ARROW1\x00\x00" + b"\xff" * 64),
        (
            "huge-vector.arrow",
            b"ARROW1\x00\x00" + b"\x00" * 16 + b"\x08\x00\x00\x00" + b"\xff" * 12 + _u32(24) + b"ARROW1",
        ),
        ("huge-message.arrow", _schema_message() + b"\xff\xff\xff\xff" + _u32(0x7FFFFFF0) + b"\x00" * 64),
        (
            "huge-record.tfrecord",
            struct.pack("<Q", 1 << 60) + _u32(tfr.masked_crc(struct.pack("<Q", 1 << 60))) + b"x" * 40,
        ),
        (
            "huge-member-000.tar",
            b"a.txt".ljust(100, b"\x00")
            + b"\x00" * 24
            + b"77777777777\x00"
            + b"\x00" * 121
            + b"ustar\x00"
            + b"\x00" * 249,
        ),
        (
            "README.md",
            b"---\npretty_name: x\ntask_categories: &a [a, a, a]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n---\n",
        ),
        ("README.md", b"---\ntask_categories: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n"),
        ("dataset_info.json", b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}"),
    ],
)
def test_bombs_end_quickly_as_unreadable(tmp_path: Path, name: str, data: bytes) -> None:
    start = time.monotonic()
    out = scan_bytes(tmp_path, name, data)
    assert time.monotonic() - start < 3.0
    assert [f.category for f in out.findings] == ["unreadable"], (out.artifacts, out.findings)


def test_reader_errors_are_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(VALID["a.parquet"][:-3])
    with pytest.raises(FormatError):
        parquet.read_parquet(probe_of(path, tmp_path))
    path.write_bytes(VALID["a.arrow"][: len(VALID["a.arrow"]) // 2] + b"ARROW1")
    with pytest.raises(FormatError):
        arrow.read_arrow(probe_of(path, tmp_path), "arrow-file")
    path.write_bytes(VALID["a-000.tar"][:700])
    with pytest.raises(FormatError):
        tar.list_members(probe_of(path, tmp_path))


def test_unreadable_dataset_is_reported_in_the_bom(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(VALID["a.parquet"][: len(VALID["a.parquet"]) // 2])
    bom = scan_bom(tmp_path)
    found = findings_of(bom)
    assert [(f["category"], f["location"]) for f in found] == [("unreadable", "broken.parquet")]
    assert found[0]["message"] == "parquet: no PAR1 footer magic (truncated?)"


def test_dataset_fields_validate_in_xml(tmp_path: Path) -> None:
    from aibom.bom.formats import render
    from aibom.pipeline import ScanOptions, scan_tree

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "README.md").write_text(CARD, encoding="utf-8")
    pq.write_table(TABLE, tmp_path / "d" / "train.parquet")
    inv = scan_tree(tmp_path, ScanOptions(use_cache=False))
    for version in ("1.6", "1.7"):
        xml = render(inv, "cyclonedx-xml", version)  # validated against the XSD inside render
        assert xml.count("<data>") == 2 and "<contents>" in xml


def _tar_checksum_reference(head: bytes) -> bool:
    """A v7 tar header as `int(field, 8)` reads its checksum (what tarfile accepts), without shortcuts."""
    try:
        stored = int(head[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 256 + sum(head[156:512])


_CHECKSUM_FORMS = [b"%06o\x00 ", b"0o%06o", b"0O%06o", b"+%06o\x00", b"\t%06o\n", b"%03o_%03o "]


@settings(max_examples=500, deadline=None)
@given(
    body=st.binary(min_size=512, max_size=600),
    field=st.lists(st.sampled_from(list(b"01234567 \t\n+-_oOx9\xff\x00")), min_size=8, max_size=8),
    form=st.sampled_from([None, *range(len(_CHECKSUM_FORMS))]),
)
def test_is_tar_agrees_with_the_checksum_rule(body: bytes, field: list[int], form: int | None) -> None:
    """`is_tar` skips the header sums when the checksum field holds a byte `int(..., 8)` rejects; on
    everything else it decides as the rule: random fields, and matching checksums written the ways int()
    and so tarfile read them (0o prefix, sign, whitespace, underscore)."""
    from aibom.containers import is_tar

    head = bytearray(body)
    head[257:262] = b"xxxxx"  # not ustar: the checksum decides
    head[148:156] = bytes(field)
    if form is not None:
        total = sum(head[:148]) + 256 + sum(head[156:512])  # the field itself counts as 8 spaces
        fmt = _CHECKSUM_FORMS[form]
        text = fmt % ((total >> 9, total & 0o777) if b"_" in fmt else total)
        assert len(text) == 8
        head[148:156] = text
        assert _tar_checksum_reference(bytes(head))
    assert is_tar(bytes(head)) == _tar_checksum_reference(bytes(head))
