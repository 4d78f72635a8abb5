"""License and notice files: identified to SPDX ids (or named AI licenses) by their text."""

from __future__ import annotations

import re

from ..inventory import License, LicenseFile
from ..license_ids import identify_text
from ..sniff import Probe, looks_like_text
from . import register
from .base import Scanner, ScanOutput

MAX_LICENSE_BYTES = 1 << 20
_NAME = re.compile(r"^(licen[cs]e|copying|unlicense|copyright|notice)s?([-_.][\w.+-]*)?$", re.IGNORECASE)
_CODE_EXT = {
    "py", "pyi", "js", "ts", "go", "rs", "java", "c", "h", "cc", "cpp", "hpp", "rb", "php", "json", "yaml",
    "yml", "toml", "html", "htm", "cfg", "ini", "sh", "kt", "swift", "cs", "lock",
}  # fmt: skip


def is_license_name(name: str) -> bool:
    m = _NAME.match(name)
    if not m:
        return False
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext not in _CODE_EXT


@register
class LicenseFileScanner(Scanner):
    family = "license"
    priority = 30

    def identify(self, probe: Probe) -> str | None:
        if is_license_name(probe.name) and probe.size <= MAX_LICENSE_BYTES and looks_like_text(probe.head):
            return "notice" if probe.name.lower().startswith("notice") else "license-text"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        text = probe.read_text(MAX_LICENSE_BYTES) or ""
        notice = fmt == "notice"
        found = None if notice else identify_text(text)
        if not notice and found is None:
            found = License(name=f"unidentified license text ({probe.relpath})")
        if found is not None:
            found.source = probe.relpath
            found.acknowledgement = "declared"
        out.license_files.append(LicenseFile(probe.relpath, probe.folder, found, notice=notice))
