"""Conflicting license declarations for one folder (LICENSE says MIT, pyproject says Apache-2.0).

Both stay recorded on the component; this adds a finding so nobody mistakes one for the whole truth.
Several license files in one folder (LICENSE-MIT + LICENSE-APACHE) are a dual license, not a
conflict; a conflict is metadata (pyproject, setup.cfg, a card) naming other licenses than the
folder's license files, or two metadata sources disagreeing.
"""

from __future__ import annotations

from .inventory import Category, Finding, Inventory, License, LicenseFile, Severity
from .license_ids import license_keys
from .scanners.licenses import is_license_name


def _keys(lic: License) -> frozenset[str]:
    return frozenset(license_keys(lic.expression)) if lic.expression else frozenset({lic.label})


def _conflict(files: list[LicenseFile], metadata: list[LicenseFile]) -> bool:
    meta_keys = {_keys(lf.license) for lf in metadata if lf.license}
    if len(meta_keys) > 1:
        return True
    if not meta_keys or not files:
        return False
    file_keys = frozenset().union(*(_keys(lf.license) for lf in files if lf.license))
    return next(iter(meta_keys)) != file_keys


def declaration_conflicts(inv: Inventory) -> list[Finding]:
    """One finding per folder whose license files and metadata name different licenses."""
    by_folder: dict[str, list[LicenseFile]] = {}
    for lf in inv.license_files:
        if lf.license is not None and not lf.notice:
            by_folder.setdefault(lf.folder, []).append(lf)
    findings = []
    for folder in sorted(by_folder):
        entries = by_folder[folder]
        files = [lf for lf in entries if is_license_name(lf.path.rsplit("/", 1)[-1])]
        metadata = [lf for lf in entries if lf not in files]
        if not _conflict(files, metadata):
            continue
        stated = "; ".join(sorted(f"{lf.path}: {lf.license.label}" for lf in entries if lf.license))
        findings.append(
            Finding(
                rule="license-declarations-differ",
                category=Category.LICENSE_CONFLICT,
                severity=Severity.WARNING,
                message=f"folder '{folder or '.'}' declares different licenses: {stated}",
                location=sorted(lf.path for lf in entries)[0],
                remediation="Make the license files and package metadata agree, or document which applies to what.",
            )
        )
    return findings
