"""The foundation's small scanners: pip requirements, Git LFS pointers, license files, the binary fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from aibom.inventory import Category, Kind
from aibom.pipeline import scan_tree
from aibom.scanners import ScanOutput, identify
from aibom.sniff import Probe

from conftest import findings_of, scan_json

OID = "a" * 64


def _libraries(root: Path) -> dict[str, dict]:
    bom = scan_json(root)
    return {c["bom-ref"]: c for c in bom["components"] if c["type"] == "library"}


def _identify(path: Path, root: Path) -> str:
    probe, _ = Probe.from_file(path.relative_to(root).as_posix(), str(path), str(root))
    return identify(probe)[1]


def test_requirements_syntax(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# comment\n"
        "--index-url https://example.invalid/simple\n"
        "Requests[socks]==2.31.0  # trailing comment\n"
        "torch>=2.1,<3 ; platform_system != 'Darwin'\n"
        "numpy==1.26.4 \\\n"
        "    --hash=sha256:" + "b" * 64 + " \\\n"
        "    --hash=sha256:" + "c" * 64 + "\n"
        "mylib @ https://files.example.invalid/mylib-1.0.tar.gz\n"
        "-e git+https://github.com/org/proj.git@v1.2#egg=proj\n"
        "-e .\n"
        "https://files.example.invalid/pkgs/tiny_pkg-0.3.1-py3-none-any.whl\n"
        "-rdev-requirements.txt\n"
    )
    (tmp_path / "dev-requirements.txt").write_text("pytest===8.0.0\n-r requirements.txt\n")  # include cycle
    libs = _libraries(tmp_path)
    assert sorted(libs) == [
        "pkg:pypi/mylib?download_url=https://files.example.invalid/mylib-1.0.tar.gz",
        "pkg:pypi/numpy@1.26.4",
        "pkg:pypi/proj?vcs_url=git%2Bhttps://github.com/org/proj.git%40v1.2",
        "pkg:pypi/pytest@8.0.0",
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/tiny-pkg@0.3.1?download_url=https://files.example.invalid/pkgs/tiny_pkg-0.3.1-py3-none-any.whl",
        "pkg:pypi/torch",
    ]
    numpy = libs["pkg:pypi/numpy@1.26.4"]
    hashes = next(p["value"] for p in numpy["properties"] if p["name"] == "aibom:requirement:hashes")
    assert hashes == f"sha256:{'b' * 64},sha256:{'c' * 64}"
    assert numpy["evidence"]["occurrences"] == [{"location": "requirements.txt", "line": 5}]
    pytest_ = libs["pkg:pypi/pytest@8.0.0"]
    # Seen through the include and in its own file: one component, one occurrence per place.
    assert pytest_["evidence"]["occurrences"] == [{"location": "dev-requirements.txt", "line": 1}]


def test_requirements_include_outside_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("leaked==1.0\n")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "requirements.txt").write_text("-r ../secret.txt\nok==1\n")
    bom = scan_json(root)
    assert [c["name"] for c in bom["components"]] == ["ok"]
    assert [f["message"] for f in findings_of(bom)] == [
        "line 1: include '../secret.txt' points outside the scanned root"
    ]


def test_requirements_name_is_a_hint_content_decides(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "README.txt").write_text("numpy==1.0\n")
    assert _identify(tmp_path / "requirements.txt", tmp_path) == "unknown-binary"
    assert _identify(tmp_path / "README.txt", tmp_path) == "text"


def test_lfs_pointer_variants(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 42\n")
    (tmp_path / "notes.bin").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 7\n")
    (tmp_path / "bad.bin").write_text("version https://git-lfs.github.com/spec/v1\noid md5:abc\nsize 7\n")
    inv = scan_tree(tmp_path)
    kinds = {a.location: (a.kind, a.sha256, a.size) for a in inv.artifacts}
    assert kinds["model.gguf"] == (Kind.MODEL, OID, 42)
    assert kinds["notes.bin"] == (Kind.MODEL, OID, 7)  # .bin is a weight-file suffix
    assert kinds["bad.bin"][0] is Kind.FILE
    assert sorted((f.location, f.category) for f in inv.findings) == [
        ("bad.bin", Category.UNREADABLE),
        ("model.gguf", Category.INTEGRITY),
        ("notes.bin", Category.INTEGRITY),
    ]


MIT = (
    "Copyright (c) 2024 Someone\n\nPermission is hereby granted, free of charge, to any person\nobtaining a copy "
    "of this software ... The above copyright notice and this\npermission notice shall be included in all copies.\n"
)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("LICENSE", MIT, "MIT"),
        (
            "LICENSE.md",
            "   Apache License\n   Version 2.0, January 2004\n http://www.apache.org/licenses/",
            "Apache-2.0",
        ),
        ("COPYING", "GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007\n", "AGPL-3.0-only"),
        ("LICENSE-weights", "Creative Commons Attribution-NonCommercial 4.0 International", "CC-BY-NC-4.0"),
        ("LICENCE.txt", "SPDX-License-Identifier: GPL-2.0+\n", "GPL-2.0-or-later"),
        ("LICENSE", "LLAMA 2 COMMUNITY LICENSE AGREEMENT\nLlama 2 Version Release Date: July 18, 2023", None),
    ],
)
def test_license_files(tmp_path: Path, name: str, text: str, expected: str | None) -> None:
    (tmp_path / name).write_text(text)
    inv = scan_tree(tmp_path)
    [lic] = inv.root_licenses()
    assert lic.expression == expected
    if expected is None:
        assert lic.name == "Llama 2 Community License Agreement"
        assert lic.url == "https://ai.meta.com/llama/license/"
    assert lic.source == name


def test_unidentified_license_text_is_named_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text("You may do whatever the author says on Tuesdays.\n")
    [lic] = scan_tree(tmp_path).root_licenses()
    assert lic.expression is None and lic.name == "unidentified license text (LICENSE)"


def test_license_name_with_code_extension_is_code(tmp_path: Path) -> None:
    (tmp_path / "license.py").write_text("print('MIT')\n")
    assert _identify(tmp_path / "license.py", tmp_path) not in ("license-text", "notice")


@pytest.mark.parametrize(
    ("content", "fmt", "listed"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "png", True),  # a member for dataset grouping
        (b"PK\x03\x04" + b"\x00" * 30, "zip", True),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 20, "elf-executable", True),
        (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "pickle", True),
        (b"MZ is how this text begins\n", "text", False),
        (b"\x01\x02\x03\x00\xff\xfe", "unknown-binary", True),
        (b"", "empty", False),
    ],
)
def test_binary_fallback(tmp_path: Path, content: bytes, fmt: str, listed: bool) -> None:
    path = tmp_path / "thing"
    path.write_bytes(content)
    probe, _ = Probe.from_file("thing", str(path), str(tmp_path))
    scanner, found = identify(probe)
    assert found == fmt
    out = ScanOutput()
    scanner.scan(probe, found, out)
    assert bool(out.artifacts) is listed


def test_no_license_is_said_explicitly(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy==1.0\n")
    (tmp_path / "blob.bin").write_bytes(b"\x00opaque")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "LICENSE").write_text("SPDX-License-Identifier: MIT\n")
    (tmp_path / "m" / "w.bin").write_bytes(b"\x00weights")
    bom = scan_json(tmp_path)
    marks = {
        c["name"]: next((p["value"] for p in c.get("properties", []) if p["name"] == "aibom:license"), None)
        for c in bom["components"]
    }
    assert marks == {"numpy": "none found", "blob.bin": "none found", "w.bin": None}
