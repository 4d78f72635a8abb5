"""Scan-cache rows: every field of a scan's output survives the round trip, and a row of another format, or
with a value of the wrong type, is refused (a cache miss), never decoded into wrong output."""

from __future__ import annotations

import contextlib
import math
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibom import scanrecord
from aibom.inventory import (
    Artifact,
    Category,
    Evidence,
    ExternalRef,
    Finding,
    Kind,
    License,
    LicenseFile,
    Metric,
    ModelDirFile,
    ModelInfo,
    Provenance,
    Severity,
)
from aibom.scanners.base import ScanOutput
from aibom.scanrecord import FORMAT, BadRecord, Record


def _rich() -> ScanOutput:
    """One of every kind of value a scanner can put in its output."""
    part = Artifact(kind=Kind.FILE, name="w.bin", ref="path:m/w.bin", size=0, sha256="0" * 64)
    model = Artifact(
        kind=Kind.MODEL,
        name="m",
        ref="path:m/model.gguf",
        format="gguf",
        version="1",
        description="a model",
        size=2**40,
        content_path="/root/m/model.gguf",
        licenses=[
            License(expression="Apache-2.0", source="m/README.md", acknowledgement="concluded"),
            License(name="custom", url="https://x/y"),
        ],
        evidence=[Evidence("m/model.gguf", offset=24, symbol="general.name"), Evidence("train.py", line=3)],
        provenance=[Provenance("hf", "https://huggingface.co/a/b", "revision main")],
        hashes={"md5": "d41d8cd98f00b204e9800998ecf8427e"},
        model=ModelInfo(
            parameter_count=7_000_000_000,
            tensor_count=291,
            dtypes={"F16": 7, "Q4_K": 3},
            architecture_family="llama",
            task="text-generation",
            inputs=["text"],
            properties={"context": "4096"},
            datasets=["path:data"],
            metrics=[Metric("accuracy", "0.91", slice="test")],
        ),
        properties={"aibom:k": "v", "z": ""},
        model_dir_file=ModelDirFile("config", {"architectures": ["A", "B"], "n": 3, "deep": {"x": [1, "y"]}}),
        parts=[part],
        ancestors=["hf:meta-llama/Llama-2-7b"],
        depends_on=["path:data"],
        external_refs=[ExternalRef("website", "https://example.com", comment="home")],
        external=True,
    )
    finding = Finding(
        rule="pickle-code", category=Category.UNSAFE_CODE, severity=Severity.ERROR, message="os.system called",
        location="m/evil.pkl", component="path:m/evil.pkl", remediation="Do not load it.", offset=12,
    )  # fmt: skip
    notice = LicenseFile(path="NOTICE", folder="", license=None, notice=True)
    return ScanOutput([model], [finding], [LicenseFile("LICENSE", "", License(expression="MIT")), notice])


def _record(out: ScanOutput, deps: dict[str, tuple[int, int, int, int, int] | None] | None = None) -> Record:
    return Record(FORMAT, "gguf", 2, deps or {}, out)


def test_every_field_survives_the_round_trip() -> None:
    record = _record(_rich(), {"/r/.dvc/config": (1, 2, 3, 4, 5), "/r/gone.txt": None})
    text = scanrecord.encode(record)
    assert not text.startswith("j")  # the fast path
    back = scanrecord.decode(text)
    assert back == record
    assert type(back.out.artifacts[0].model.metrics[0]) is Metric  # type: ignore[union-attr]
    assert back.out.findings[0].severity is Severity.ERROR and back.deps["/r/.dvc/config"] == (1, 2, 3, 4, 5)


def test_a_non_utf8_file_name_round_trips_through_json_escapes() -> None:
    name = b"caf\xe9.bin".decode("utf-8", "surrogateescape")  # how Python holds a Latin-1 file name
    out = ScanOutput([Artifact(kind=Kind.FILE, name=name, ref=f"path:{name}", evidence=[Evidence(name)])])
    text = scanrecord.encode(_record(out))
    assert text.startswith("j") and text.isascii()
    assert scanrecord.decode(text).out == out


def test_integers_beyond_64_bits_round_trip() -> None:
    """A hostile header can declare any count; the row keeps it exactly."""
    out = ScanOutput([Artifact(kind=Kind.MODEL, name="m", ref="path:m", model=ModelInfo(parameter_count=2**100))])
    back = scanrecord.decode(scanrecord.encode(_record(out))).out
    assert back.artifacts[0].model.parameter_count == 2**100  # type: ignore[union-attr]


def test_a_nan_fact_is_kept_not_turned_into_null() -> None:
    facts = ModelDirFile("config", {"x": [math.nan]})
    out = ScanOutput([Artifact(kind=Kind.FILE, name="c", ref="path:c", model_dir_file=facts)])
    text = scanrecord.encode(_record(out))
    assert text.startswith("j")
    assert math.isnan(scanrecord.decode(text).out.artifacts[0].model_dir_file.facts["x"][0])  # type: ignore[union-attr]


_GOOD = scanrecord.encode(_record(_rich()))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "[]",
        "j[",
        _GOOD.replace(f"[{FORMAT},", f"[{FORMAT + 1},", 1),  # another format
        _GOOD.replace('"gguf"', "7", 1),  # fmt: int for str
        _GOOD.replace(f'[{FORMAT},"gguf",2,', f'[{FORMAT},"gguf",true,', 1),  # hashed: bool for int
        _GOOD.replace('"model"', '"weights"', 1),  # kind: not a Kind
        _GOOD.replace('"error"', '"fatal"', 1),  # severity: not a Severity
        _GOOD.replace('"size":1099511627776', '"size":"big"', 1),
        _GOOD.replace('"parameter_count":7000000000', '"parameter_count":7.5', 1),
        _GOOD.replace('"name":"m"', '"name":null', 1),  # a required string missing
        scanrecord.encode(_record(ScanOutput(), {"/p": (1, 2, 3, 4, 5)})).replace("[1,2,3,4,5]", "[1,2,3]"),
        f'[{FORMAT},null,0,{{}},{{"artifacts":' + "[" * 100_000 + "]" * 100_000 + "}]",
        f'[{FORMAT},null,0,{{}},{{"artifacts":['
        + '{"kind":"file","name":"a","ref":"r","parts":[' * 50_000
        + "]}" * 50_000
        + "]}]",
        "j" + f'[{FORMAT},null,0,{{}},{{"artifacts":[{{"kind":"file","name":5,"ref":"r"}}]}}]',
        f'[{FORMAT},null,0,{{}},{{"artifacts":[],"findings":[],"license_files":[]}},"more"]',  # a sixth field
    ],
)
def test_a_row_this_version_did_not_write_is_refused(text: str) -> None:
    with pytest.raises(BadRecord):
        scanrecord.decode(text)


def test_the_damaged_rows_above_really_differ_from_a_good_one() -> None:
    """Each replace in the list above must have hit, or its case tests nothing."""
    for old in ['"gguf"', '"model"', '"error"', '"size":1099511627776', '"parameter_count":7000000000', '"name":"m"']:
        assert old in _GOOD, old
    assert _GOOD.startswith(f'[{FORMAT},"gguf",2,')
    assert "[1,2,3,4,5]" in scanrecord.encode(_record(ScanOutput(), {"/p": (1, 2, 3, 4, 5)}))


def test_rows_decode_from_many_threads_at_once() -> None:
    """Fleet scans on Dask workers decode cached rows in parallel threads."""
    text, want = _GOOD, scanrecord.decode(_GOOD)
    start = threading.Barrier(16)
    decoded: list[Record] = []
    errors: list[BaseException] = []

    def decode() -> None:
        start.wait()
        try:
            for _ in range(200):
                decoded.append(scanrecord.decode(text))
        except BaseException as exc:  # any failure is the finding
            errors.append(exc)

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=decode) for _ in range(16)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert not errors and len(decoded) == 3200 and all(d == want for d in decoded)


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(["\udce9", "\x00", "\u2028", '"', "\\"]), max_size=12)


@st.composite
def _artifacts(draw: st.DrawFn, depth: int = 0) -> Artifact:
    """Artifacts with the values that have tripped encoders: surrogates, huge and negative ints, NaN facts."""
    big = st.integers(min_value=-(2**70), max_value=2**70)
    return Artifact(
        kind=draw(st.sampled_from(list(Kind))),
        name=draw(_TEXT),
        ref=draw(_TEXT),
        size=draw(st.none() | big),
        licenses=draw(st.lists(st.builds(License, expression=st.none() | _TEXT, source=st.none() | _TEXT), max_size=2)),
        evidence=draw(st.lists(st.builds(Evidence, _TEXT, line=st.none() | big), max_size=2)),
        properties=draw(st.dictionaries(_TEXT, _TEXT, max_size=3)),
        model=draw(
            st.none() | st.builds(ModelInfo, parameter_count=st.none() | big, dtypes=st.dictionaries(_TEXT, big))
        ),
        model_dir_file=draw(
            st.none()
            | st.builds(
                ModelDirFile,
                _TEXT,
                st.dictionaries(_TEXT, st.none() | st.booleans() | big | st.floats() | _TEXT | st.lists(_TEXT)),
            )
        ),
        parts=draw(st.lists(_artifacts(depth + 1), max_size=2)) if depth < 2 else [],
    )


def _same(a: object, b: object) -> bool:
    """Equality that counts NaN equal to NaN (the one value a round trip keeps but `==` refuses)."""
    return repr(a) == repr(b)


@given(st.lists(_artifacts(), max_size=3), st.dictionaries(_TEXT, st.none() | st.tuples(*[st.integers(0, 2**63)] * 5)))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_scan_output_round_trips(artifacts: list[Artifact], deps: dict[str, tuple[int, ...] | None]) -> None:
    record = Record(FORMAT, None, 0, deps, ScanOutput(artifacts))  # type: ignore[arg-type]
    assert _same(scanrecord.decode(scanrecord.encode(record)), record)


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
@settings(max_examples=300, deadline=None)
def test_any_text_decodes_or_is_refused(text: str) -> None:
    for row in (text, "j" + text, _GOOD[: len(text)] + text):
        with contextlib.suppress(BadRecord):  # anything else (a crash, another exception) fails the test
            scanrecord.decode(row)
