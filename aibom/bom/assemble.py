"""CycloneDX JSON assembled from per-component fragments, so a rescan renders only what changed.

Every component is rendered by cyclonedx-python-lib (plus aibom's `modelCard`/`data`), validated, and
kept as indented JSON text under a key that digests everything the component is made from. A rescan
renders only components whose key is new and splices the cached rest into the document in the
library's component order. The output is the document the library would write for the whole BOM
(tests/test_bom_assembly.py checks this on real trees); only the serial number is derived from the
assembled text itself. The document's head (`$schema` .. `metadata`) is cached the same way, under a key
of everything but the timestamp, which each run sets. When every piece is cached, neither the library
nor the schema validator is imported at all.

Validation is compositional, so the whole document is still checked against the schema: JSON Schema
checks each `components` and `dependencies` item on its own, so the document is valid when the document
without them is valid, every component and its dependency entry are valid (each was, in the document it
was rendered in), and the items are distinct (`uniqueItems`: their bom-refs are unique). Dependency
entries are `{"ref"}` or `{"dependsOn", "ref"}` with refs of the document's components, written here.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib.util
import io
import json
import os
import pickle
import uuid
from datetime import datetime
from typing import Any

import cyclonedx  # the package's version only: its models load when something is rendered
import msgspec

from .. import __version__
from ..inventory import Artifact, Finding, Inventory
from ..scancache import context
from ..textsafe import for_json_text
from . import ml_extensions
from .cdx_basics import (
    COMPONENT_TYPES,
    JSON_HEAD,
    ROOT_REF,
    STAT_BYTES,
    STAT_FILES,
    ZERO_SERIAL,
    InvalidBom,
    build_timestamp,
    serial_of,
)
from .fragments import FragmentCache
from .relations import dependency_refs, split_findings, top_level_refs

#: Components rendered through the library at once: bounds its memory (about 30 KiB a component) on large trees.
BATCH = 500
#: From this many components to render, batches go to worker processes, one per core (`render_worker`):
#: rendering is pure Python, so in this process it used one core. Below, starting the workers and
#: importing the library in each costs more than it saves.
PARALLEL_FROM = 4 * BATCH
#: A batch: `render_fragments`' arguments.
Batch = tuple[list[Artifact], dict[str, list[Finding]], dict[str, Artifact], dict[str, list[str]], str]
_INDENT = "    "  # a component's depth in the document: {"components": [ {...} ]}
_quote = json.JSONEncoder(ensure_ascii=False).encode  # one string as JSON


_msgpack = msgspec.msgpack.Encoder()


def _stable_bytes(value: object) -> bytes:
    """Equal values give equal bytes: msgpack of the dataclasses field by field, in C. msgpack holds neither
    a lone surrogate (a non-UTF-8 file name) nor an integer beyond 64 bits (a header's absurd count), so a
    value holding one is pickled instead, without the memo: how its strings are shared does not matter."""
    try:
        return b"m" + _msgpack.encode(value)
    except (UnicodeEncodeError, OverflowError):
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=5)
        pickler.fast = True  # no memo: structure only (aibom's artifacts hold no cycles)
        pickler.dump(value)
        return b"p" + buf.getvalue()


#: Libraries whose code shapes a rendered component besides cyclonedx-python-lib itself.
_RENDERING_LIBRARIES = ("py_serializable", "packageurl", "sortedcontainers")


@functools.cache
def _libraries() -> str:
    """A fingerprint (path, size, mtime of each package's __init__) of the rendering libraries, found
    without importing them: an upgrade of any of them makes every fragment key new."""
    parts = []
    for name in _RENDERING_LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        try:
            st = os.stat(origin) if origin else None
        except OSError:
            st = None
        parts.append(f"{name}:{origin}:{st.st_size}:{st.st_mtime_ns}" if st else f"{name}:missing")
    return "\n".join(parts)


def _salt(spec_version: str) -> bytes:
    """What every fragment depends on besides its artifact: aibom's code and data, the library (and the
    ones it renders with), msgspec (which writes the bytes the key digests), the spec."""
    parts = (context(), __version__, cyclonedx.__version__, msgspec.__version__, _libraries(), spec_version)
    return "\n".join(parts).encode()


def fragment_key(
    artifact: Artifact,
    findings: dict[str, list[Finding]],
    by_ref: dict[str, Artifact],
    depends_on: list[str],
    salt: bytes,
) -> str:
    """SHA-256 of all a component and its dependency entry are rendered from: the artifact with its parts,
    their findings, the (kind, name, purl) of the base models named as pedigree ancestors, and the refs
    it depends on that are in the BOM."""
    parts = list(artifact.walk())
    about = [findings.get(a.ref, []) for a in parts]
    ancestors = [
        (by_ref[ref].kind, by_ref[ref].name, by_ref[ref].purl) for a in parts for ref in a.ancestors if ref in by_ref
    ]
    digest = hashlib.sha256(salt)
    digest.update(_stable_bytes((artifact, about, ancestors, depends_on)))
    return digest.hexdigest()


def _dependency(ref: str, depends_on: list[str]) -> dict[str, Any]:
    """One entry of the library's flattened dependency graph (its key order: dependsOn, ref)."""
    return {"dependsOn": depends_on, "ref": ref} if depends_on else {"ref": ref}


def _sort_key(artifact: Artifact) -> tuple[Any, ...]:
    """The library's component order (type, group, name, version, bom-ref; a missing value sorts last).
    aibom sets no group, and bom-refs are unique, so these decide."""
    version = artifact.version
    return (COMPONENT_TYPES[artifact.kind], artifact.name, version is None, version or "", artifact.ref)


def _fragment_text(component: dict[str, Any]) -> str:
    text = for_json_text(json.dumps(component, indent=2, ensure_ascii=False))
    return "\n".join(_INDENT + line for line in text.split("\n"))


def render_fragments(
    artifacts: list[Artifact],
    findings: dict[str, list[Finding]],
    by_ref: dict[str, Artifact],
    depends_on: dict[str, list[str]],
    spec_version: str,
) -> dict[str, str]:
    """Render these artifacts' components through the library and check them, with their dependency
    entries, against the schema: bom-ref -> fragment text."""
    from .cyclonedx import components_bom, library_json  # the library loads only when something is rendered

    doc = library_json(components_bom(artifacts, findings, by_ref), spec_version)
    ml_extensions.add_to_json(doc, ml_extensions.collect(artifacts))
    ml_extensions.sort_occurrences_json(doc)
    doc["dependencies"] = [_dependency(a.ref, depends_on[a.ref]) for a in artifacts]
    _check(doc, spec_version)
    return {comp["bom-ref"]: _fragment_text(comp) for comp in doc.get("components", [])}


def _batch(
    artifacts: list[Artifact],
    findings: dict[str, list[Finding]],
    by_ref: dict[str, Artifact],
    depends_on: dict[str, list[str]],
    spec_version: str,
) -> Batch:
    """`render_fragments`' arguments for these artifacts, with only what they are rendered from."""
    parts = [p for a in artifacts for p in a.walk()]
    return (
        artifacts,
        {p.ref: findings[p.ref] for p in parts if p.ref in findings},
        {ref: by_ref[ref] for p in parts for ref in p.ancestors if ref in by_ref},
        {a.ref: depends_on[a.ref] for a in artifacts},
        spec_version,
    )


def _check(doc: dict[str, Any], spec_version: str) -> None:
    from .cyclonedx import SPEC_VERSIONS
    from .validate import json_errors

    error = json_errors(doc, SPEC_VERSIONS[spec_version])
    if error is not None:
        raise InvalidBom(f"aibom produced an invalid CycloneDX {spec_version} cyclonedx-json document: {error}")


def _head(
    inv: Inventory,
    loose: list[Finding],
    depends: bool,
    salt: bytes,
    spec_version: str,
    cached: dict[str, str],
    timestamp: datetime,
) -> tuple[str, str]:
    """(key, JSON text) of the document's head (`$schema` .. `metadata`, serial number zero, timestamp
    blank, file and byte counts zero: `_set_stats` fills them in), from the cache or rendered through the
    library and checked with the shape of the root's dependency entry. The key digests everything the
    metadata is made from except the timestamp and those counts, which change with almost any edit: a
    rescan after one changed file then reuses the head instead of loading the library to render it."""
    notices = [lf.path for lf in inv.license_files if lf.notice]
    made_of = (inv.root_name, inv.root_licenses(), loose, inv.skipped, inv.environments, notices, depends)
    digest = hashlib.sha256(salt)
    digest.update(_stable_bytes(made_of))
    key = "head:" + digest.hexdigest()
    if key in cached:
        return key, cached[key]
    from .cyclonedx import library_json, metadata_bom

    meta = library_json(metadata_bom(inv, loose, timestamp, stats=(0, 0))[0], spec_version)
    if meta.get("metadata", {}).get("timestamp") != timestamp.isoformat():
        raise InvalidBom(f"the library wrote the timestamp as {meta.get('metadata', {}).get('timestamp')!r}")
    doc = {k: meta[k] for k in JSON_HEAD if k in meta}
    doc["serialNumber"] = ZERO_SERIAL.urn
    # The root's dependsOn items are refLinkTypes like the `ref` of each component's own entry, checked
    # when it was rendered, and come from a set (uniqueItems): checking the entry's shape is enough.
    root = {"dependsOn": [ROOT_REF], "ref": ROOT_REF} if depends else {"ref": ROOT_REF}
    _check(doc | {"dependencies": [root]}, spec_version)
    doc["metadata"]["timestamp"] = ""
    return key, json.dumps(doc, ensure_ascii=False)


def _set_stats(doc: dict[str, Any], files: int, size: int) -> None:
    """Write the scan's file and byte counts into the head's two properties (rendered as zeros)."""
    wanted = {STAT_FILES: str(files), STAT_BYTES: str(size)}
    found = [p for p in doc["metadata"].get("properties", []) if p.get("name") in wanted]
    if sorted(p["name"] for p in found) != sorted(wanted):
        raise InvalidBom("the document head lacks its file and byte counts")
    for prop in found:
        prop["value"] = wanted[prop["name"]]


def _dependency_text(ref: str, refs: list[str]) -> str:
    """One entry of `dependencies` as the library's indented JSON writes it (json.dumps indents in
    Python, too slow for tens of thousands of entries; each string goes through the C encoder)."""
    quoted = _quote(ref)
    if not refs:
        return f'    {{\n      "ref": {quoted}\n    }}'
    items = ",\n".join("        " + _quote(r) for r in refs)
    return f'    {{\n      "dependsOn": [\n{items}\n      ],\n      "ref": {quoted}\n    }}'


def render_json_chunks(
    inv: Inventory,
    spec_version: str,
    fragments: FragmentCache | None = None,
    timestamp: datetime | None = None,
    processes: int | None = None,
) -> list[str]:
    """The CycloneDX JSON text of `inv` as the pieces it is assembled from (a writer need not join them:
    the document is not held twice), reusing and refreshing the cached fragments of its components.
    `timestamp` defaults to SOURCE_DATE_EPOCH or now; at most `processes` worker processes render
    (default: one per core)."""
    timestamp = timestamp or build_timestamp()
    findings, loose = split_findings(inv)
    by_ref = {a.ref: a for a in inv.artifacts}
    if len(by_ref) != len(inv.artifacts):
        raise InvalidBom("two components share a bom-ref")  # the inventory guarantees unique refs
    depends_on = dependency_refs(inv)
    salt = _salt(spec_version)
    keys = {a.ref: fragment_key(a, findings, by_ref, depends_on[a.ref], salt) for a in inv.artifacts}
    cached = fragments.load() if fragments is not None else {}
    missing = [a for a in inv.artifacts if keys[a.ref] not in cached]
    rendered: dict[str, str] = {}
    batches = [missing[i : i + BATCH] for i in range(0, len(missing), BATCH)]
    processes = min((os.cpu_count() or 1) if processes is None else processes, len(batches))
    if len(missing) >= PARALLEL_FROM and processes > 1:
        from .render_worker import render_batches

        args = [_batch(batch, findings, by_ref, depends_on, spec_version) for batch in batches]
        rendered = render_batches(args, render_fragments, processes)
    else:
        for batch in batches:  # the library's object graph for one batch at a time
            rendered.update(render_fragments(batch, findings, by_ref, depends_on, spec_version))
            if len(batches) > 1:  # the library's objects hold cycles: free each batch's before the next
                gc.collect()
    texts = {ref: cached[key] if key in cached else rendered[ref] for ref, key in keys.items()}
    inv.stats.components_rendered, inv.stats.components_reused = len(missing), len(keys) - len(missing)

    top = sorted(set(top_level_refs(inv)))
    head_key, head = _head(inv, loose, bool(top), salt, spec_version, cached, timestamp)
    doc = json.loads(head)
    _set_stats(doc, inv.stats.files, inv.stats.bytes)
    doc["metadata"]["timestamp"] = timestamp.isoformat()  # as the library writes it (_head checks)
    placeholders = {name: f"aibom-{name}-{uuid.uuid4()}" for name in ("components", "dependencies")}
    if texts:
        doc["components"] = placeholders["components"]
    doc["dependencies"] = placeholders["dependencies"]
    entries = [(ROOT_REF, top), *depends_on.items()]
    entries.sort(key=lambda entry: entry[0])

    # The document is the list of its pieces (the cached fragments are not copied), and the serial
    # number is the digest of those pieces.
    skeleton = for_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
    pieces: list[str] = []
    if texts:
        before, skeleton = skeleton.split(f'"{placeholders["components"]}"', 1)
        pieces += [before, "[\n"]
        for a in sorted(inv.artifacts, key=_sort_key):
            pieces += [texts[a.ref], ",\n"]
        pieces[-1] = "\n  ]"
    before, after = skeleton.split(f'"{placeholders["dependencies"]}"', 1)
    dependencies = for_json_text(",\n".join(_dependency_text(ref, refs) for ref, refs in entries))
    pieces += [before, "[\n", dependencies, "\n  ]", after]
    pieces[0] = pieces[0].replace(ZERO_SERIAL.urn, serial_of(pieces), 1)  # the serial is in the head

    if fragments is not None:
        used = {*keys.values(), head_key}
        new = {keys[ref]: rendered[ref] for ref in rendered}
        if head_key not in cached:
            new[head_key] = head
        fragments.store(new, [key for key in cached if key not in used])
    return pieces
