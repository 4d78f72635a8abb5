"""Link what scanners found separately: model directories become one model each, license files speak
for the folder they sit in and below, and models are tied to their datasets and base models."""

from __future__ import annotations

from .inventory import Artifact, Inventory, Kind, License
from .license_declarations import declaration_conflicts
from .lineage import link_lineage
from .model_dirs import DIR_PREFIX, group


def _folder_chain(location: str) -> list[str]:
    """'a/b/c.bin' -> ['a/b', 'a', '']: the folders whose license files could apply, nearest first."""
    parts = location.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


def _folder(artifact: Artifact) -> str | None:
    """The folder a model directory stands for, or None for other artifacts."""
    if not artifact.ref.startswith(DIR_PREFIX):
        return None
    folder = artifact.ref.removeprefix(DIR_PREFIX)
    return "" if folder == "." else folder


def _key(lic: License) -> str:
    return lic.label.casefold()


def _add_folder_license(artifact: Artifact, licenses: list[License]) -> None:
    """A model directory's card declares a license and the folder holds a LICENSE: both apply.

    Both are recorded (declared from the card, concluded from the file); if they name different
    licenses, `aibom:license:mismatch` says so. Nothing is resolved silently.
    """
    declared = [lic for lic in artifact.licenses if lic.acknowledgement == "declared"]
    artifact.licenses += [lic.as_concluded() for lic in licenses]
    identified = [lic for lic in licenses if not (lic.name or "").startswith("unidentified license text")]
    if declared and identified and {_key(x) for x in declared} != {_key(x) for x in identified}:
        card = ", ".join(x.label for x in declared)
        files = ", ".join(f"{x.label} ({x.source})" if x.source else x.label for x in identified)
        artifact.properties["aibom:license:mismatch"] = f"card declares {card}; license file says {files}"


def apply_folder_licenses(inv: Inventory) -> None:
    """Give each unlicensed model, dataset or file the license of its nearest licensed folder.

    Such a license is *concluded* (inferred from the tree), not declared by the artifact itself.
    A model directory whose card declares a license also gets its own folder's license file.
    """
    by_folder: dict[str, list] = {}
    for lf in inv.license_files:
        if lf.license is not None and not lf.notice:
            by_folder.setdefault(lf.folder, []).append(lf.license)
    if not by_folder:
        return
    for artifact in inv.artifacts:
        if artifact.kind is Kind.LIBRARY or artifact.external or not artifact.location:
            continue
        if artifact.properties.get("aibom:external") == "true":
            continue  # fetched from elsewhere at run time: the project's license does not cover it
        if artifact.licenses:
            folder = _folder(artifact)
            if folder is not None and folder in by_folder:
                _add_folder_license(artifact, by_folder[folder])
            continue
        chain = _folder_chain(artifact.location)
        if (folder := _folder(artifact)) is not None:
            chain = _folder_chain(f"{folder}/x" if folder else "x")
        for folder in chain:
            if folder in by_folder:
                artifact.licenses = [lic.as_concluded() for lic in by_folder[folder]]
                break


NO_LICENSE = "aibom:license"


def mark_unlicensed(inv: Inventory) -> None:
    """Say so explicitly where no license was found, so "none" is never confused with "not looked"."""
    for artifact in inv.artifacts:
        if not artifact.licenses:
            reason = "not fetched (named only; --online looks it up)" if artifact.external else "none found"
            artifact.properties.setdefault(NO_LICENSE, reason)


def link(inv: Inventory) -> None:
    group(inv)
    apply_folder_licenses(inv)
    link_lineage(inv)
    inv.findings.extend(declaration_conflicts(inv))
    mark_unlicensed(inv)
