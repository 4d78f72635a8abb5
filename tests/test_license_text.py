"""Full-text license identification: real texts with real headers, re-wrapped, and hostile input."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import license_expression
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import scan_bom

from aibom.license_ids import identify_text
from aibom.license_match import references
from aibom.resources import data_dir

from conftest import findings_of

TEXTS = data_dir("licenses") / "texts"
COMMON = Path("/usr/share/common-licenses")
COMMON_IDS = {
    "Apache-2.0": "Apache-2.0",
    "Artistic": "Artistic-1.0-Perl",
    "BSD": "BSD-3-Clause",
    "CC0-1.0": "CC0-1.0",
    "GFDL-1.2": "GFDL-1.2-only",
    "GFDL-1.3": "GFDL-1.3-only",
    "GPL-1": "GPL-1.0-only",
    "GPL-2": "GPL-2.0-only",
    "GPL-3": "GPL-3.0-only",
    "LGPL-2": "LGPL-2.0-only",
    "LGPL-2.1": "LGPL-2.1-only",
    "LGPL-3": "LGPL-3.0-only",
    "MPL-1.1": "MPL-1.1",
    "MPL-2.0": "MPL-2.0",
}
HEADER = "Copyright (c) 2019-2024 Example Labs, Inc. and contributors <legal@example.org>\nAll rights reserved.\n\n"
PLACEHOLDERS = {
    "<year>": "2024",
    "<copyright holders>": "Example Labs, Inc.",
    "<owner>": "Example Labs, Inc.",
    "<organization>": "Example Labs",
    "<OWNER>": "Example Labs, Inc.",
    "<ORGANIZATION>": "Example Labs",
    "<YEAR>": "2024",
    "<COPYRIGHT HOLDER>": "Example Labs, Inc.",
}


def rewrap(text: str, width: int) -> str:
    """Re-flow every paragraph to `width` columns, as editors and packagers do."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width) for p in paragraphs if p)


def realistic(spdx_id: str, width: int = 72) -> str:
    text = (TEXTS / f"{spdx_id}.txt").read_text(encoding="utf-8")
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return HEADER + rewrap(text, width)


@pytest.mark.parametrize("name", sorted(COMMON_IDS))
def test_debian_common_licenses(name: str) -> None:
    text = (COMMON / name).read_text(encoding="utf-8")
    found = identify_text(HEADER + text)
    assert found is not None and found.expression == COMMON_IDS[name]


@pytest.mark.parametrize(
    "spdx_id",
    [
        "MIT", "BSD-2-Clause", "BSD-3-Clause", "AGPL-3.0-only", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-SA-4.0",
        "CC0-1.0", "Apache-2.0", "ISC", "MIT-0", "CC-BY-NC-SA-4.0", "GPL-3.0-only", "LGPL-3.0-only", "Unlicense",
    ],
)  # fmt: skip
@pytest.mark.parametrize("width", [60, 100])
def test_realistic_license_files(spdx_id: str, width: int) -> None:
    found = identify_text(realistic(spdx_id, width))
    assert found is not None and found.expression == spdx_id


def test_every_reference_is_told_apart_from_the_others() -> None:
    ids = [r.spdx_id for r in references()]
    assert len(ids) >= 45
    wrong = {i: (identify_text(realistic(i, 66)) or "none") for i in ids}
    wrong = {i: f.expression if hasattr(f, "expression") else f for i, f in wrong.items()}
    assert {i: f for i, f in wrong.items() if f != i} == {}


def test_third_party_copy_of_cc_by_4() -> None:
    # license-expression ships its own copy of the CC-BY-4.0 legal code (different layout and header).
    path = Path(license_expression.__file__).parent / "data" / "cc-by-4.0.LICENSE"
    found = identify_text(path.read_text(encoding="utf-8"))
    assert found is not None and found.expression == "CC-BY-4.0"


def test_markdown_mit_with_heading_and_real_header() -> None:
    text = (
        "# MIT License\n\nCopyright © 2023 Jane Doe\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
        "associated documentation files (the “Software”), to deal in the Software without restriction, including "
        "without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell "
        "copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the "
        "following conditions:\n\nThe above copyright notice and this permission notice shall be included in all "
        "copies or substantial portions of the Software.\n\n**THE SOFTWARE IS PROVIDED “AS IS”, WITHOUT WARRANTY OF "
        "ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A "
        "PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY "
        "CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF "
        "OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.**\n"
    )
    found = identify_text(text)
    assert found is not None and found.expression == "MIT"


def test_license_with_extra_terms_is_not_the_plain_license() -> None:
    extra = (
        "\n\nCommons Clause License Condition v1.0\n\n"
        + "The Software is provided to you by the Licensor under the License, as defined below, subject to the "
        "following condition. Without limiting other conditions in the License, the grant of rights under the "
        "License will not include, and the License does not grant to you, the right to Sell the Software. For "
        "purposes of the foregoing, Sell means practicing any or all of the rights granted to you under the "
        "License to provide to third parties, for a fee or other consideration (including without limitation "
        "fees for hosting or consulting/ support services related to the Software), a product or service whose "
        "value derives, entirely or substantially, from the functionality of the Software. " * 2
    )
    found = identify_text(realistic("MIT") + extra)
    assert found is not None and found.expression is None and found.name == "MIT with additional text"


def test_spdx_identifier_header_wins() -> None:
    found = identify_text("SPDX-License-Identifier: MIT OR Apache-2.0\n\nSee LICENSE-MIT and LICENSE-APACHE.\n")
    assert found is not None and found.expression == "MIT OR Apache-2.0"


def test_prose_is_not_a_license() -> None:
    assert identify_text("This folder holds the training scripts. Run train.py to start.\n" * 20) is None
    # A slice of the GPL's body (no title) is not the GPL.
    half = (COMMON / "GPL-3").read_text(encoding="utf-8")[3000:9000]
    found = identify_text(half)
    assert found is None or found.expression != "GPL-3.0-only"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["MIT", "Apache-2.0", "GPL-3.0-only", "CC-BY-4.0"]),
    st.integers(0, 40_000),
    st.binary(max_size=64),
    st.integers(0, 40_000),
)
def test_mutated_license_texts_never_fail(spdx_id: str, cut: int, junk: bytes, at: int) -> None:
    text = realistic(spdx_id)
    mutated = text[: at % (len(text) + 1)] + junk.decode("latin-1") + text[at % (len(text) + 1) : cut or None]
    start = time.monotonic()
    identify_text(mutated)
    assert time.monotonic() - start < 1.0


def test_huge_text_is_bounded() -> None:
    start = time.monotonic()
    assert identify_text("lorem ipsum dolor sit amet " * 200_000) is None
    assert time.monotonic() - start < 5.0


def test_scan_records_root_folder_and_pyproject_licenses(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(realistic("MIT", 70), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\nlicense = "MIT"\nlicense-files = ["LICENSE"]\n', encoding="utf-8"
    )
    data = tmp_path / "data" / "reviews"
    data.mkdir(parents=True)
    (data / "LICENSE.txt").write_text(realistic("CC-BY-NC-4.0", 80), encoding="utf-8")
    (data / "blob.bin").write_bytes(b"\x00\x01\x02\xff" * 64)
    (tmp_path / "tool.bin").write_bytes(b"\x00\x07\x02\xff" * 64)
    bom = scan_bom(tmp_path)
    root = bom["metadata"]["component"]
    assert root["licenses"] == [{"license": {"id": "MIT", "acknowledgement": "declared"}}]
    by_loc = {c["evidence"]["occurrences"][0]["location"]: c for c in bom["components"]}
    assert by_loc["data/reviews/blob.bin"]["licenses"] == [
        {"license": {"id": "CC-BY-NC-4.0", "acknowledgement": "concluded"}}
    ]
    assert by_loc["tool.bin"]["licenses"] == [{"license": {"id": "MIT", "acknowledgement": "concluded"}}]
    assert [f for f in findings_of(bom) if f["category"] == "license-conflict"] == []


def test_conflicting_declarations_are_recorded(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(realistic("MIT", 70), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nlicense = "Apache-2.0"\n', encoding="utf-8")
    bom = scan_bom(tmp_path)
    root = bom["metadata"]["component"]
    assert root["licenses"] == [{"expression": "MIT AND Apache-2.0", "acknowledgement": "declared"}]
    conflicts = [f for f in findings_of(bom) if f["category"] == "license-conflict"]
    assert len(conflicts) == 1
    assert conflicts[0]["message"] == (
        "folder '.' declares different licenses: LICENSE: MIT; pyproject.toml: Apache-2.0"
    )
    assert json.dumps(conflicts[0])  # serialisable as stored
