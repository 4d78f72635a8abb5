"""After the scan: folders of media become one dataset each, and dataset files join their folder's dataset.

- Media files (images, audio, .txt) are grouped by folder; sibling groups (`train/cat`, `train/dog`)
  merge into their parent. A group of at least MIN_MEMBERS files becomes one dataset component with
  its file count, total bytes and an aggregate SHA-256 (over sorted `relative path NUL sha256` lines,
  so it is stable across runs and machines); smaller groups are dropped as before (not listed).
- Every dataset file or media group inside a folder that has a dataset description (card, DVC ...)
  is recorded as part of that dataset: property `aibom:dataset:part-of` and a dependency edge.
- A DVC entry whose tracked path is present on disk is merged into that file's dataset component.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import Counter

from ..inventory import Artifact, Evidence, Inventory, Kind
from .facts import MEMBER
from .ids import folder_dataset_id, hub_cache_id

MIN_MEMBERS = 10
PART_OF = "aibom:dataset:part-of"
DATASET_ID = "aibom:dataset:id"


def _folder(location: str) -> str:
    return location.rsplit("/", 1)[0] if "/" in location else ""


def _parent(folder: str) -> str:
    return folder.rsplit("/", 1)[0] if "/" in folder else ""


SPLIT_NAMES = frozenset({"train", "training", "test", "testing", "val", "valid", "validation", "dev", "eval"})


def media_groups(members: list[Artifact]) -> dict[str, list[Artifact]]:
    """Dataset folder -> its member files.

    From the root down, a chain of folders with one media-bearing child is followed; a folder
    where the media branch is the dataset if it holds media itself, if its branches are splits
    (train/val/test) or if they are all leaf folders (class folders: cat/, dog/). Otherwise
    each branch is looked at on its own.
    """
    direct: dict[str, list[Artifact]] = {}
    for art in members:
        direct.setdefault(_folder(art.location or ""), []).append(art)
    children: dict[str, set[str]] = {}
    for folder in direct:
        while folder:
            children.setdefault(_parent(folder), set()).add(folder)
            folder = _parent(folder)

    def collect(folder: str) -> list[Artifact]:
        out = list(direct.get(folder, []))
        for kid in sorted(children.get(folder, ())):
            out += collect(kid)
        return out

    groups: dict[str, list[Artifact]] = {}
    stack = sorted(children.get("", ()))
    if "" in direct:
        groups[""] = direct[""]
    while stack:
        folder = stack.pop()
        kids = children.get(folder, set())
        if folder in direct or not kids:
            groups[folder] = collect(folder)
        elif len(kids) == 1:
            stack.append(next(iter(kids)))
        elif all(posixpath.basename(k).lower() in SPLIT_NAMES for k in kids) or not any(children.get(k) for k in kids):
            groups[folder] = collect(folder)
        else:
            stack.extend(sorted(kids))
    return groups


def aggregate_hash(folder: str, members: list[Artifact]) -> str | None:
    """SHA-256 over the sorted `path-inside-folder NUL sha256` lines; None if a member has no hash."""
    lines = []
    prefix = f"{folder}/" if folder else ""
    for art in members:
        if not art.sha256 or not art.location:
            return None
        lines.append(f"{art.location[len(prefix) :]}\0{art.sha256}\n")
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def media_dataset(folder: str, members: list[Artifact], root_name: str) -> Artifact:
    art = Artifact(
        kind=Kind.DATASET,
        name=posixpath.basename(folder) or root_name,
        ref=f"path:{folder}/",
        format="media-folder",
        size=sum(m.size or 0 for m in members),
        sha256=aggregate_hash(folder, members),
        evidence=[Evidence(f"{folder}/")],
    )
    kinds = Counter(m.properties[MEMBER] for m in members)
    art.properties["aibom:dataset:files"] = str(len(members))
    art.properties["aibom:dataset:bytes"] = str(art.size)
    art.properties["aibom:dataset:media"] = ",".join(f"{k}={kinds[k]}" for k in sorted(kinds))
    art.properties["aibom:dataset:hash"] = "sha256 of sorted lines: relative path, NUL, file sha256"
    art.properties[DATASET_ID] = folder_dataset_id(folder, root_name)
    return art


def _described_folders(artifacts: dict[str, Artifact]) -> dict[str, Artifact]:
    """Folder -> its described dataset (refs `dataset:<folder>` made by metadata documents)."""
    out = {}
    for ref, art in artifacts.items():
        if ref.startswith("dataset:") and art.format != "dvc-tracked":
            folder = ref[len("dataset:") :]
            out["" if folder == "." else folder] = art
    return out


def _merge_dvc(artifacts: dict[str, Artifact]) -> None:
    """A DVC-tracked path that exists as a scanned dataset (file or media folder) is that dataset."""
    for ref, art in list(artifacts.items()):
        if art.format != "dvc-tracked":
            continue
        path = art.properties.get("aibom:dataset:path", "")
        target = artifacts.get(f"path:{path}") or artifacts.get(f"path:{path}/")
        if target is None or target.kind is not Kind.DATASET:
            continue
        for ev in art.evidence:
            if ev not in target.evidence:
                target.evidence.append(ev)
        for key, value in art.properties.items():
            target.properties.setdefault(key, value)
        target.provenance += [p for p in art.provenance if p not in target.provenance]
        target.hashes.update(art.hashes)
        if not target.licenses:
            target.licenses = art.licenses
        del artifacts[ref]


def group_datasets(inv: Inventory) -> None:
    """Apply the module's rules to the inventory, in place."""
    members = [a for a in inv.artifacts if MEMBER in a.properties]
    artifacts = {a.ref: a for a in inv.artifacts if MEMBER not in a.properties}
    for folder, group in sorted(media_groups(members).items()):
        if folder and len(group) >= MIN_MEMBERS:  # loose media at the root are not one dataset
            art = media_dataset(folder, group, inv.root_name)
            artifacts[art.ref] = art
    _merge_dvc(artifacts)
    described = _described_folders(artifacts)
    for art in artifacts.values():
        if art.kind is not Kind.DATASET or art.ref.startswith("dataset:") or not art.location:
            continue
        folder = _folder(art.location.rstrip("/"))
        while True:
            owner = described.get(folder)
            if owner is not None:
                art.properties[PART_OF] = owner.ref
                if art.ref not in owner.depends_on:
                    owner.depends_on.append(art.ref)
                art.properties.pop(DATASET_ID, None)  # the described dataset carries the id
                break
            if not folder:
                break
            folder = _parent(folder)
        hub = hub_cache_id(art.location)
        if hub and PART_OF not in art.properties and DATASET_ID not in art.properties:
            art.properties[DATASET_ID] = hub
    inv.artifacts = list(artifacts.values())
