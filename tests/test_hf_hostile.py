"""Hostile model-directory metadata: every file ends parsed or `unreadable`, quickly, never an exception."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hf_fixtures import by_ref, findings, save_sharded, scan, tiny_state_dict, write_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.hf_ids import card_license
from aibom.inventory import Category, Inventory
from aibom.link import link
from aibom.scanners import ScanOutput, identify
from aibom.scanners.model_card import FrontMatterError, parse_front_matter
from aibom.sniff import Probe

VALID_CARD = """---
license: other
license_name: acme
license_link: LICENSE.md
base_model: [acme/a, acme/b]
datasets: [acme/d]
pipeline_tag: text-generation
model-index:
- name: m
  results:
  - task: {type: text-generation}
    dataset: {name: D, split: test}
    metrics: [{type: accuracy, value: 0.5}]
---
# card
"""
VALID_CONFIG = json.dumps(
    {
        "architectures": ["A"],
        "model_type": "a",
        "torch_dtype": "bfloat16",
        "auto_map": {"AutoModel": ["m.A", "org/r--n.B"]},
        "quantization_config": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
        "max_position_embeddings": 4096,
    }
)
VALID_INDEX = json.dumps({"metadata": {"total_size": 112}, "weight_map": {"a": "s-00001-of-00002.safetensors"}})
VALID_ADAPTER = json.dumps({"peft_type": "LORA", "base_model_name_or_path": "acme/a", "r": 8, "target_modules": "q"})
VALID_TOKENIZER_CONFIG = json.dumps({"chat_template": [{"name": "default", "template": "{{ x }}"}]})


def scan_file(folder: Path, name: str, data: bytes) -> ScanOutput:
    """Identify and scan one file as the pipeline would, but let any scanner exception escape."""
    path = folder / name
    path.write_bytes(data)
    probe, _ = Probe.from_file(name, str(path), str(folder))
    scanner, fmt = identify(probe)
    out = ScanOutput()
    scanner.scan(probe, fmt, out)
    return out


def unreadable_message(out: ScanOutput) -> str:
    (finding,) = out.findings
    assert finding.category is Category.UNREADABLE
    return finding.message


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        (
            "license: mit\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]",
            "aliases",
        ),
        ("license: mit\nx: " + "[" * 100 + "]" * 100, "nests deeper"),
        ("license: mit\nx: !!python/object/apply:os.system ['echo pwned']", "not valid YAML"),
        ("license: [unclosed", "not valid YAML"),
        ("license: mit\n" + "k: v\n" * 1, None),
    ],
)
def test_hostile_front_matter(tmp_path: Path, front_matter: str, reason: str | None) -> None:
    start = time.monotonic()
    out = scan_file(tmp_path, "README.md", f"---\n{front_matter}\n---\n# x\n".encode())
    assert time.monotonic() - start < 2
    if reason is None:
        assert out.findings == [] and out.artifacts[0].model_dir_file is not None
    else:
        assert reason in unreadable_message(out)


def test_crlf_card(tmp_path: Path) -> None:
    out = scan_file(tmp_path, "README.md", b"---\r\nlicense: mit\r\npipeline_tag: fill-mask\r\n---\r\n# x\r\n")
    assert out.findings == []
    assert out.artifacts[0].model_dir_file is not None
    assert out.artifacts[0].model_dir_file.facts["pipeline_tag"] == "fill-mask"


def test_front_matter_must_be_a_mapping() -> None:
    with pytest.raises(FrontMatterError, match="not a YAML mapping"):
        parse_front_matter("- just\n- a list\n")


def test_oversized_and_unclosed_front_matter(tmp_path: Path) -> None:
    big = "---\nlicense: mit\n" + "# padding comment line\n" * 50_000 + "---\n"
    assert "over the 1048576-byte limit" in unreadable_message(scan_file(tmp_path, "README.md", big.encode()))
    assert "not closed" in unreadable_message(scan_file(tmp_path, "README.md", b"---\nlicense: mit\n# no end\n"))
    many = "---\nlicense: mit\n" + "".join(f"k{i}: [a,b,c,d]\n" for i in range(50_000)) + "---\n"
    assert len(many) < 1 << 20
    start = time.monotonic()
    assert "YAML nodes" in unreadable_message(scan_file(tmp_path, "README.md", many.encode()))
    assert time.monotonic() - start < 10


def test_hostile_json_metadata(tmp_path: Path) -> None:
    nested = b'{"model_type": "x", "a": ' + b"[" * 200_000
    assert "not valid JSON" in unreadable_message(scan_file(tmp_path, "config.json", nested))
    assert "not valid JSON" in unreadable_message(scan_file(tmp_path, "config.json", b'{"model_type": "\xff\xfe"}'))
    huge = b'{"model_type": "x", "pad": "' + b"a" * (5 << 20) + b'"}'
    assert "over the" in unreadable_message(scan_file(tmp_path, "config.json", huge))
    bad_index = json.dumps({"weight_map": {"w": "../../outside.safetensors"}}).encode()
    assert "invalid shard name" in unreadable_message(scan_file(tmp_path, "model.safetensors.index.json", bad_index))
    no_map = json.dumps({"metadata": {"total_size": 1}}).encode()
    assert "weight_map" in unreadable_message(scan_file(tmp_path, "model.safetensors.index.json", no_map))
    # a foreign config.json is not a model file and not an error, even when it is not strict JSON or is large
    for foreign in (b'{"port": 8080}', b'{"port": 8080, // a comment\n}', b'{"data": "' + b"x" * (5 << 20) + b'"}'):
        out = scan_file(tmp_path, "config.json", foreign)
        assert (out.artifacts, out.findings) == ([], [])


def test_absurd_index_total_size(tmp_path: Path) -> None:
    index = save_sharded(tmp_path / "m", tiny_state_dict(), max_shard_size=40)
    index["metadata"]["total_size"] = 2**70
    write_json(tmp_path / "m" / "model.safetensors.index.json", index)
    (f,) = findings(by_ref(scan(tmp_path), "model-dir:m"))
    assert f["rule"] == "shard-size-mismatch"


def _mutations() -> st.SearchStrategy:
    files = st.sampled_from(
        [
            ("README.md", VALID_CARD),
            ("config.json", VALID_CONFIG),
            ("model.safetensors.index.json", VALID_INDEX),
            ("adapter_config.json", VALID_ADAPTER),
            ("tokenizer_config.json", VALID_TOKENIZER_CONFIG),
        ]
    )
    edits = st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=0, max_size=8)), max_size=4)
    return st.tuples(files, st.integers(0, 2000), edits)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_mutations())
def test_mutated_metadata_never_escapes(tmp_path: Path, case) -> None:  # type: ignore[no-untyped-def]
    (name, text), cut, edits = case
    data = bytearray(text.encode())
    for pos, chunk in edits:
        pos %= len(data) + 1
        data[pos : pos + len(chunk)] = chunk
    data = data[: max(cut, 1)] if cut < len(data) else data
    start = time.monotonic()
    out = scan_file(tmp_path, name, bytes(data))
    assert time.monotonic() - start < 2
    for finding in out.findings:
        assert finding.category is Category.UNREADABLE
    # whatever was parsed must also survive grouping and linking
    inv = Inventory(root_name="r", artifacts=list(out.artifacts), findings=list(out.findings))
    link(inv)


def test_hostile_strings_still_give_valid_boms(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text(
        '---\nlicense: other\nlicense_name: "evil\\0name\\x1b"\nlicense_link: "https://x y/<a>"\n'
        'pipeline_tag: "\\x7ftext"\ndatasets: ["a\\u0007b", "ok/ds"]\nbase_model: "../../etc"\n---\n',
        encoding="utf-8",
    )
    write_json(folder / "config.json", {"model_type": "t\u0000x", "architectures": ["A\ud800"], "r": 10**4000})
    for fmt in ("cyclonedx-json", "cyclonedx-xml"):
        scan(tmp_path, fmt, "1.6")  # validates, raises if invalid
    model = by_ref(scan(tmp_path), "model-dir:m")
    assert model["modelCard"]["modelParameters"]["architectureFamily"] == "t\ufffdx"
    assert model["licenses"][0]["license"]["name"] == "evil\ufffdname\ufffd"
    huge = b'{"model_type": "x", "n": ' + b"9" * 5000 + b"}"
    assert "not valid JSON" in unreadable_message(scan_file(tmp_path, "config.json", huge))


def test_license_tag_that_breaks_license_expression() -> None:
    lic = card_license(";ther")  # license-expression raises AttributeError on its own error path here
    assert lic is not None and (lic.expression, lic.name) == (None, ";ther")
