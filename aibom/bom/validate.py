"""Offline schema validation of CycloneDX documents with the schemas cyclonedx-python-lib ships.

JSON: the library's own strict schema and reference registry, with one change: `uniqueItems` is checked
in linear time by hashing canonical JSON (jsonschema's generic check is quadratic, which made a
2,500-component BOM take 30 s to validate). XML: the library's XSD validator (lxml, already fast).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON
from cyclonedx.validation.xml import XmlValidator
from jsonschema import Draft7Validator, ValidationError
from jsonschema.validators import extend
from referencing import Registry
from referencing.jsonschema import DRAFT7

_PREFIX = "http://cyclonedx.org/schema/"


def _canonical(value: Any) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"))


def _unique_items(validator: Any, unique: bool, instance: Any, schema: dict[str, Any]) -> Any:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        key = _canonical(item)
        if key in seen:
            yield ValidationError(f"{instance!r} has non-unique elements"[:500])
            return
        seen.add(key)


_FastDraft7 = extend(Draft7Validator, {"uniqueItems": _unique_items})


def _load(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@cache
def _json_validator(version: SchemaVersion) -> Any:
    path = BOM_JSON_STRICT[version]
    if path is None:
        raise ValueError(f"no JSON schema for CycloneDX {version.to_version()}")
    registry: Registry[Any] = Registry().with_resources(
        [
            (f"{_PREFIX}spdx.SNAPSHOT.schema.json", DRAFT7.create_resource(_load(SPDX_JSON))),
            (f"{_PREFIX}cryptography-defs.SNAPSHOT.schema.json", DRAFT7.create_resource(_load(CRYPTOGRAPHY_DEFS))),
            (f"{_PREFIX}jsf-0.82.SNAPSHOT.schema.json", DRAFT7.create_resource(_load(JSF))),
        ]
    )
    return _FastDraft7(_load(path), registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def json_errors(doc: Any, version: SchemaVersion) -> str | None:
    """The first schema error in a parsed CycloneDX JSON document, or None if it is valid."""
    error = next(iter(_json_validator(version).iter_errors(doc)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(document)"
    return f"{where}: {error.message[:500]}"


def json_error_list(doc: Any, version: SchemaVersion, limit: int = 50) -> list[tuple[str, str]]:
    """Up to `limit` schema errors of a parsed CycloneDX JSON document as (JSON pointer, message) pairs."""
    out: list[tuple[str, str]] = []
    for error in _json_validator(version).iter_errors(doc):
        out.append(("/" + "/".join(str(p) for p in error.absolute_path), error.message[:500]))
        if len(out) >= limit:
            break
    return out


def xml_errors(text: str, version: SchemaVersion) -> str | None:
    error = XmlValidator(version).validate_str(text)
    return None if error is None else str(error)
