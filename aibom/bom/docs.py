"""Reading BOM documents from disk safely and telling which format they are, by content.

Bounded: a document larger than MAX_BYTES is refused, JSON nesting deeper than Python can parse is an
unreadable document (not a crash), and XML is parsed with entities and network access disabled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

MAX_BYTES = 256 << 20
#: Deeper documents are refused: real BOMs nest a few dozen levels; validators and mergers recurse.
MAX_NESTING = 100
_CDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/(1\.[0-9])\}bom$")
CDX_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
SPDX3_CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"


class Unreadable(Exception):
    """The file cannot be read or is not a document aibom knows."""


@dataclass
class Document:
    """A parsed document: `kind` is cyclonedx | spdx2 | spdx3, `syntax` json | xml."""

    kind: str
    syntax: str
    version: str
    text: str
    data: Any = None  # parsed JSON (dict) or the lxml root element

    @property
    def label(self) -> str:
        name = {"cyclonedx": "CycloneDX", "spdx2": "SPDX", "spdx3": "SPDX"}[self.kind]
        syntax = "JSON-LD" if self.kind == "spdx3" else self.syntax.upper()
        return f"{name} {self.version} {syntax}"


def read_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise Unreadable(f"{path} is larger than {MAX_BYTES >> 20} MiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise Unreadable("JSON nested too deeply") from None


def _parse_xml(text: str) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"not well-formed XML: {exc}") from None


def _too_deep_json(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values() if isinstance(v, dict | list)]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item if isinstance(v, dict | list)]
    return False


def _too_deep_xml(root: Any) -> bool:
    stack = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        stack += [(child, depth + 1) for child in el]
    return False


def _spdx3_context(data: dict[str, Any]) -> str | None:
    ctx = data.get("@context")
    if isinstance(ctx, str):
        return ctx
    if isinstance(ctx, list):
        return next((c for c in ctx if isinstance(c, str) and "spdx.org/rdf/" in c), None)
    return None


def identify(text: str) -> Document:
    """Which document this is, from its content alone."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        root = _parse_xml(text)
        if _too_deep_xml(root):
            raise Unreadable(f"XML nested deeper than {MAX_NESTING} levels")
        match = _CDX_NS.match(root.tag if isinstance(root.tag, str) else "")
        if not match:
            raise Unreadable(f"XML root {root.tag!s:.120} is not a CycloneDX bom")
        version = match.group(1)
        if version not in CDX_VERSIONS:
            raise Unreadable(f"CycloneDX {version} is not supported (1.2 to 1.7 are)")
        return Document("cyclonedx", "xml", version, text, root)
    data = _parse_json(text)
    if not isinstance(data, dict):
        raise Unreadable("JSON document is not an object")
    if _too_deep_json(data):
        raise Unreadable(f"JSON nested deeper than {MAX_NESTING} levels")
    if data.get("bomFormat") == "CycloneDX":
        version = data.get("specVersion")
        if version not in CDX_VERSIONS:
            raise Unreadable(f"CycloneDX specVersion {str(version)[:40]!r} is not supported (1.2 to 1.7 are)")
        return Document("cyclonedx", "json", version, text, data)
    spdx_version = data.get("spdxVersion")
    if isinstance(spdx_version, str) and spdx_version.startswith("SPDX-2."):
        if spdx_version not in ("SPDX-2.2", "SPDX-2.3"):
            raise Unreadable(f"{spdx_version[:40]} is not supported (SPDX-2.2 and SPDX-2.3 are)")
        return Document("spdx2", "json", spdx_version[5:], text, data)
    context = _spdx3_context(data)
    if context is not None:
        if context != SPDX3_CONTEXT:
            raise Unreadable(f"SPDX 3 context {context[:120]!r} is not supported ({SPDX3_CONTEXT} is)")
        return Document("spdx3", "json", "3.0.1", text, data)
    raise Unreadable("not a CycloneDX or SPDX document (no bomFormat, spdxVersion or SPDX @context)")


def load(path: Path) -> Document:
    return identify(read_text(path))
