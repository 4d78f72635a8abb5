"""Offline validation of any CycloneDX (1.2-1.7, JSON/XML) or SPDX (2.2/2.3 JSON, 3.0.1 JSON-LD) document.

Each error is a (where, message) pair: a JSON pointer for CycloneDX JSON, a line for XML, an SPDX id for SPDX.
"""

from __future__ import annotations

from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.xml import XmlValidator

from .docs import Document
from .validate import json_error_list

Error = tuple[str, str]


def _cyclonedx(doc: Document, limit: int) -> list[Error]:
    version = SchemaVersion.from_version(doc.version)
    if doc.syntax == "json":
        return json_error_list(doc.data, version, limit)
    errors = XmlValidator(version).validate_str(doc.text, all_errors=True) or []
    out: list[Error] = []
    for error in errors:
        entry = getattr(error, "data", None)
        line = getattr(entry, "line", None)
        message = getattr(entry, "message", None) or str(error)
        out.append((f"line {line}" if line else "(document)", str(message).strip()[:500]))
        if len(out) >= limit:
            break
    return out


def _spdx2(doc: Document, limit: int) -> list[Error]:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    try:
        parsed = JsonLikeDictParser().parse(doc.data)
    except SPDXParsingError as exc:
        return [("(parse)", str(m)[:500]) for m in exc.get_messages()[:limit]]
    except RecursionError:
        return [("(parse)", "document nested too deeply")]
    except Exception as exc:  # spdx-tools raises plain errors on some hostile shapes
        return [("(parse)", f"{type(exc).__name__}: {str(exc)[:400]}")]
    messages = validate_full_spdx_document(parsed, f"SPDX-{doc.version}")
    out: list[Error] = []
    for m in messages[:limit]:
        ctx = m.context
        where = ctx.spdx_id or (f"{ctx.parent_id} ({ctx.element_type.name.lower()})" if ctx.parent_id else None)
        if where is None and ctx.element_type is not None:
            where = ctx.element_type.name.lower()
        out.append((where or "(document)", m.validation_message[:500]))
    return out


def _spdx3(doc: Document, limit: int) -> list[Error]:
    from . import spdx3

    return spdx3.validate_json(doc.data, limit)


def errors_of(doc: Document, limit: int = 50) -> list[Error]:
    """Up to `limit` errors; an empty list means the document is valid."""
    check: dict[str, Any] = {"cyclonedx": _cyclonedx, "spdx2": _spdx2, "spdx3": _spdx3}
    return check[doc.kind](doc, limit)
