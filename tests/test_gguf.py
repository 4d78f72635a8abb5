"""GGUF: real files written by the `gguf` package (GGUFWriter), plus hostile ones built from them."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import gguf
import numpy as np
import pytest
from direct_scan import is_unreadable, mutate, of_category, only_artifact, scan_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom.inventory import Category, Kind, Severity
from aibom.scanners import gguf as gguf_scanner

from conftest import component_at, findings_of, prop, scan_json


def write_gguf(path: Path, endian: gguf.GGUFEndian = gguf.GGUFEndian.LITTLE, template: str | None = None) -> Path:
    w = gguf.GGUFWriter(str(path), "llama", endianess=endian)
    w.add_name("Tiny Llama")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    w.add_context_length(4096)
    w.add_license("apache-2.0")
    w.add_size_label("35")
    w.add_base_model_count(1)
    w.add_base_model_name(0, "Base Model")
    w.add_base_model_organization(0, "Example Org")
    w.add_base_model_repo_url(0, "https://huggingface.co/example/base")
    w.add_chat_template(template or "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    w.add_token_list([f"tok{i}" for i in range(300)])
    w.add_array("tiny.list", [1, 2, 3])
    w.add_tensor("blk.0.weight", np.zeros((4, 8), dtype=np.float32))
    w.add_tensor("blk.0.bias", np.zeros((3,), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny.gguf")


def test_metadata_read_exactly(tiny: Path) -> None:
    fmt, out = scan_file(tiny)
    assert fmt == "gguf"
    a = only_artifact(out)
    assert a.kind is Kind.MODEL and a.name == "Tiny Llama"
    assert a.model is not None
    assert a.model.parameter_count == 35
    assert a.model.tensor_count == 2
    assert a.model.dtypes == {"F32": 32, "F16": 3}
    assert a.model.architecture_family == "llama"
    assert a.model.properties == {
        "cdx:ai-ml:model:quantization": "MOSTLY_Q4_K_M",
        "cdx:ai-ml:model:context:length": "4096",
        "cdx:ai-ml:model:size:label": "35",
    }
    assert [lic.expression for lic in a.licenses] == ["Apache-2.0"]
    p = a.properties
    assert p["aibom:gguf:version"] == "3"
    assert p["aibom:gguf:endianness"] == "little"
    assert p["aibom:base-model:0:name"] == "Base Model"
    assert p["aibom:base-model:0:organization"] == "Example Org"
    assert p["aibom:base-model:0:repo_url"] == "https://huggingface.co/example/base"
    assert p["aibom:gguf:kv:tokenizer.ggml.tokens"] == "array[string; 300]"
    assert p["aibom:gguf:kv:tiny.list"] == "[1, 2, 3]"
    assert p["aibom:gguf:kv:tokenizer.chat_template"].startswith("{% for m in messages %}")
    assert out.findings == []


def test_big_endian(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "be.gguf", gguf.GGUFEndian.BIG)
    _, out = scan_file(path)
    a = only_artifact(out)
    assert a.properties["aibom:gguf:endianness"] == "big"
    assert a.model is not None and a.model.parameter_count == 35
    assert a.model.properties["cdx:ai-ml:model:context:length"] == "4096"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self.__init__.__globals__.__builtins__.__import__('os') }}",
        "{{ joiner.__init__ }}",
    ],
)
def test_chat_template_escape_is_a_warning(tmp_path: Path, template: str) -> None:
    _, out = scan_file(write_gguf(tmp_path / "evil.gguf", template=template))
    (finding,) = of_category(out, Category.UNSAFE_CODE)
    assert finding.severity is Severity.WARNING
    assert finding.location == "evil.gguf"


def test_quantization_names_match_gguf_package() -> None:
    for ft in gguf.LlamaFileType:
        assert gguf_scanner.FILE_TYPES[ft.value] == ft.name
    for qt in gguf.GGMLQuantizationType:
        assert gguf_scanner.GGML_TYPES[qt.value] == qt.name


def test_in_bom(tiny: Path) -> None:
    bom = scan_json(tiny.parent)
    comp = component_at(bom, "tiny.gguf")
    assert comp["type"] == "machine-learning-model"
    card = comp["modelCard"]
    assert card["modelParameters"]["architectureFamily"] == "llama"
    assert prop(card, "cdx:ai-ml:model:parameter:count") == "35"
    assert prop(card, "cdx:ai-ml:model:quantization") == "MOSTLY_Q4_K_M"
    assert findings_of(bom) == []


def _header_v3(tensor_count: int, kv_count: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensor_count, kv_count)


@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (_header_v3(0, 2**62) + b"\0" * 64, "kv_count"),
        (_header_v3(2**62, 1) + b"\0" * 64, "tensor_count"),
        (_header_v3(0, 1) + struct.pack("<Q", 2**60) + b"k" * 64, "key length"),
        (_header_v3(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IQ", 8, 2**60) + b"v" * 64, "string length"),
        (_header_v3(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 0, 2**61) + b"\0" * 64, "array"),
        (_header_v3(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99) + b"\0" * 64, "value type"),
        (b"GGUF" + struct.pack("<I", 9) + b"\0" * 64, "version"),
    ],
)
def test_hostile_headers(tmp_path: Path, blob: bytes, why: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(blob)
    start = time.monotonic()
    fmt, out = scan_file(path)
    assert fmt == "gguf"
    assert is_unreadable(out), why
    assert time.monotonic() - start < 1


def test_array_nesting_bomb(tmp_path: Path) -> None:
    # An array of arrays of arrays ... (type 9 holding type 9), each declaring one item.
    body = struct.pack("<Q", 1) + b"k" + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 1000
    path = tmp_path / "nest.gguf"
    path.write_bytes(_header_v3(0, 1) + body)
    _, out = scan_file(path)
    assert is_unreadable(out)
    assert "nested deeper" in out.findings[0].message


def test_truncated_at_every_byte_of_the_header(tiny: Path, tmp_path: Path) -> None:
    data = tiny.read_bytes()
    header_end = len(data) - 160  # the tensor data region (32 F32 + 3 F16, aligned) is at the end
    for cut in range(8, header_end, 7):
        path = tmp_path / "cut.gguf"
        path.write_bytes(data[:cut])
        _, out = scan_file(path)
        assert is_unreadable(out), cut


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutations_never_escape(tiny: Path, tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "mut.gguf"
    path.write_bytes(mutate(data, tiny.read_bytes()))
    fmt, out = scan_file(path)
    if fmt == "gguf":
        assert is_unreadable(out) or only_artifact(out).kind is Kind.MODEL


def test_version_1_uses_32_bit_counts_and_dims(tmp_path: Path) -> None:
    # GGUF v1 (no PyPI writer emits it any more): built by hand per the v1 layout, where counts,
    # string lengths and tensor dims were uint32.
    def s(text: str) -> bytes:
        return struct.pack("<I", len(text)) + text.encode()

    kv = s("general.architecture") + struct.pack("<I", 8) + s("llama")
    tensor = s("w") + struct.pack("<III", 2, 3, 5) + struct.pack("<IQ", 0, 0)
    head = b"GGUF" + struct.pack("<III", 1, 1, 1) + kv + tensor
    head += b"\0" * (-len(head) % 32)
    path = tmp_path / "v1.gguf"
    path.write_bytes(head + b"\0" * 60)
    _, out = scan_file(path)
    a = only_artifact(out)
    assert a.properties["aibom:gguf:version"] == "1"
    assert a.model is not None and a.model.parameter_count == 15 and a.model.dtypes == {"F32": 15}


def test_other_license_uses_its_name(tmp_path: Path) -> None:
    w = gguf.GGUFWriter(str(tmp_path / "o.gguf"), "llama")
    w.add_license("other")
    w.add_license_name("llama3")
    w.add_license_link("https://llama.meta.com/llama3/license")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    _, out = scan_file(tmp_path / "o.gguf")
    (lic,) = only_artifact(out).licenses
    assert (lic.expression, lic.name, lic.url) == (None, "llama3", "https://llama.meta.com/llama3/license")


BENIGN_TEMPLATE = (
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}"
    "{%- if ns.multi_step_tool and message.role == 'user' %}{%- set ns.multi_step_tool = false %}"
    "{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}"
    "{%- for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content | trim }}"
    "{%- if message.tool_calls %}{{ message.tool_calls | tojson }}{%- endif %}{{ '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def test_realistic_template_with_namespace_is_not_flagged(tmp_path: Path) -> None:
    _, out = scan_file(write_gguf(tmp_path / "qwen.gguf", template=BENIGN_TEMPLATE))
    assert out.findings == []
    assert only_artifact(out).properties["aibom:gguf:kv:tokenizer.chat_template"] == BENIGN_TEMPLATE


def test_string_arrays_across_read_windows_and_longer_than_a_window(tmp_path: Path) -> None:
    """The vocabulary skip reads a window at a time: strings straddling windows, one string longer than a
    window, and a tensor table after them are all read exactly."""
    w = gguf.GGUFWriter(str(tmp_path / "v.gguf"), "llama")
    tokens = [("t" * (i % 97)) + str(i) for i in range(40_000)]  # ~2 MiB: several 1 MiB windows
    tokens[20_000] = "x" * (3 << 20)  # longer than a window
    w.add_token_list(tokens)
    w.add_array("tokenizer.ggml.merges", [f"a{i} b{i}" for i in range(5_000)])
    w.add_tensor("w", np.zeros((5, 7), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    _, out = scan_file(tmp_path / "v.gguf")
    a = only_artifact(out)
    assert out.findings == []
    assert a.properties["aibom:gguf:kv:tokenizer.ggml.tokens"] == "array[string; 40000]"
    assert a.properties["aibom:gguf:kv:tokenizer.ggml.merges"] == "array[string; 5000]"
    assert a.model is not None and a.model.parameter_count == 35 and a.model.tensor_count == 1


def test_vocabulary_item_over_the_string_limit_is_unreadable(tiny: Path) -> None:
    raw = bytearray(tiny.read_bytes())
    at = raw.index(b"tok20") - 8  # the 21st token's u64 length: past the parsed first items, inside the skip
    assert struct.unpack_from("<Q", raw, at)[0] == 5
    struct.pack_into("<Q", raw, at, gguf_scanner.MAX_STRING + 1)
    (tiny.parent / "bad.gguf").write_bytes(bytes(raw))
    _, out = scan_file(tiny.parent / "bad.gguf")
    assert is_unreadable(out)
    assert any("exceeds" in f.message or "cannot fit" in f.message for f in out.findings), out.findings


def _skip_outcome(path: Path, n: int, endian: str, wide: bool) -> tuple[str, int]:
    """Where skipping `n` strings from offset 0 of `path` ends, or the error it ends with."""
    from aibom.bytecursor import Cursor
    from aibom.sniff import Probe

    probe, _ = Probe.from_file(path.name, str(path), str(path.parent))
    cur = Cursor(probe, 0)
    try:
        gguf_scanner._Reader(cur, endian, wide).skip_strings(n)
    except (gguf_scanner.GGUFError, gguf_scanner.Truncated) as exc:
        return f"{type(exc).__name__}: {exc}", cur.pos
    return "ok", cur.pos


@pytest.mark.parametrize(("endian", "wide"), [("<", True), (">", True), ("<", False)])
def test_big_string_arrays_are_skipped_exactly_with_or_without_the_expression(
    tmp_path: Path, endian: str, wide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big vocabularies are skipped mostly by a regular expression over runs of short strings; the
    result must be exactly the Python loop's: runs holding long strings, strings across read windows,
    both byte orders, 32-bit lengths (version 1), and arrays that claim more strings than there are."""
    import random

    rng = random.Random(7)
    lengths = [rng.choice((0, 1, 14, 63, 64, 65, 200)) if rng.random() < 0.001 else rng.randint(1, 12)
               for _ in range(150_000)]  # fmt: skip
    lengths[70_000] = 2 << 20  # longer than a read window
    size = 8 if wide else 4
    order = "little" if endian == "<" else "big"
    # contents that look like lengths, so a misaligned match could go on
    blob = b"".join(
        n.to_bytes(size, order) + bytes(rng.choice(b"\x00\x01\x05ab") for _ in range(n % 64)) + b"\0" * (n - n % 64)
        for n in lengths
    )
    path = tmp_path / "strings.bin"
    path.write_bytes(blob)
    runs: list[int] = []
    compiled = gguf_scanner._short_strings(endian, size)

    def counted(window: bytes, pos: int) -> object:
        found = compiled(window, pos)
        runs.append(found is not None)
        return found

    monkeypatch.setattr(gguf_scanner, "_short_strings", lambda *_: counted)
    with_expression = [_skip_outcome(path, n, endian, wide) for n in (len(lengths), 100_000, len(lengths) + 1)]
    assert with_expression[0] == ("ok", len(blob))
    assert with_expression[2][0] != "ok"
    assert sum(runs) > 100  # most runs were matched by the expression
    monkeypatch.setattr(gguf_scanner, "RUN_MIN_ARRAY", 1 << 62)
    assert [_skip_outcome(path, n, endian, wide) for n in (len(lengths), 100_000, len(lengths) + 1)] == with_expression


def _parse_outcome(path: Path) -> object:
    from aibom.sniff import Probe

    probe, _ = Probe.from_file(path.name, str(path), str(path.parent))
    try:
        _, info, _, _ = gguf_scanner.parse(probe)
    except gguf_scanner.GGUFError as exc:
        return f"error: {exc}"
    return (info.parameter_count, info.tensor_count, list(info.dtypes.items()))


def test_tensor_table_read_by_windows_equals_the_checked_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tensor infos are read a window at a time with no Python per field; across windows, and where a
    tensor has too many dimensions or the table is cut short, the outcome is the checked read's."""
    w = gguf.GGUFWriter(str(tmp_path / "t.gguf"), "llama")
    types = [np.float32, np.float16, np.int8]
    for i in range(12_000):  # names of ~100 bytes: a table of about 1.4 MiB, more than one read window
        shape = [1 + i % 5] if i % 3 else [2, 1 + i % 7, 3]
        w.add_tensor_info(f"blk.{i}." + "n" * 90, shape, np.dtype(types[i % 3]), int(np.prod(shape)) * 4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    good = (tmp_path / "t.gguf").read_bytes()
    good += b"\0" * (-len(good) % 32 + 12_000 * 128)
    (tmp_path / "t.gguf").write_bytes(good)
    raw = bytearray(good)
    at = raw.index(b"blk.9000." + b"n" * 90) + 99  # tensor 9000's n_dims, in the second window
    raw[at : at + 4] = struct.pack("<I", 9)
    (tmp_path / "dims.gguf").write_bytes(bytes(raw))
    (tmp_path / "cut.gguf").write_bytes(good[: good.index(b"blk.11000.")])
    paths = [tmp_path / n for n in ("t.gguf", "dims.gguf", "cut.gguf")]
    fast = [_parse_outcome(p) for p in paths]
    assert isinstance(fast[0], tuple) and fast[0][1] == 12_000
    assert "9 dimensions" in str(fast[1]) and "cannot fit" in str(fast[2])
    monkeypatch.setattr(gguf_scanner._Reader, "tensor_infos", lambda self, n, info: (0, 0))
    assert [_parse_outcome(p) for p in paths] == fast
