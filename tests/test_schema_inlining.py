"""The CycloneDX JSON schema with its non-recursive definitions inlined (aibom.bom.validate) gives exactly the
verdicts and errors of the schema as the library ships it, on real BOMs and on mutations of them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.schema._res import BOM_JSON_STRICT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import scan_bom
from jsonschema import Draft7Validator

from aibom.bom import validate

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sentiment-demo"
VERSIONS = {"1.6": SchemaVersion.V1_6, "1.7": SchemaVersion.V1_7}


@cache
def _plain(version: SchemaVersion) -> Any:
    """The validator aibom used before inlining: the library's schema as it is, same registry and checks."""
    return validate._FastDraft7(
        validate._load(BOM_JSON_STRICT[version]),
        registry=validate.registry(),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )


def _errors(validator: Any, doc: Any) -> list[tuple[str, str]]:
    """Every error in the order reported (aibom reports the first), with its full message."""
    return [("/".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(doc)]


@cache
def _example_bom() -> dict[str, Any]:
    return scan_bom(EXAMPLE)


def test_inlining_leaves_references_where_the_schema_recurses_or_messages_print_them() -> None:
    schema = validate._load(BOM_JSON_STRICT[SchemaVersion.V1_6])
    inlined = validate.inline_definitions(schema)
    left = validate._refs(inlined, inlined["definitions"], set())
    assert "component" in left and "service" in left
    assert "hash" not in left and "hashType" not in left and "externalReference" not in left
    text = json.dumps({k: v for k, v in inlined.items() if k != "definitions"})
    assert '"$ref": "#/definitions/hash"' not in text
    assert '"$ref": "spdx.SNAPSHOT.schema.json"' in json.dumps(inlined)  # other documents: still references


@pytest.mark.parametrize("spec", sorted(VERSIONS))
def test_real_bom_same_verdict(spec: str) -> None:
    doc = dict(_example_bom(), specVersion=spec)
    version = VERSIONS[spec]
    assert _errors(validate._json_validator(version), doc) == _errors(_plain(version), doc) == []


_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["", "x", "SHA-256", "MIT", "Apache-2.0", "not a url", "library", "a" * 64, "-1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["name", "alg", "id", "x"]), inner),
    max_leaves=6,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), spec=st.sampled_from(sorted(VERSIONS)))
def test_mutated_bom_same_errors(data: st.DataObject, spec: str) -> None:
    """Replace, drop or add values anywhere in a real BOM: both schemas report the same errors."""
    doc = copy.deepcopy(dict(_example_bom(), specVersion=spec))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][data.draw(st.sampled_from(["name", "alg", "content", "url", "zz"]))] = data.draw(_junk)
        else:
            parent[path[-1]] = data.draw(_junk)
    version = VERSIONS[spec]
    assert _errors(validate._json_validator(version), doc) == _errors(_plain(version), doc)


@pytest.mark.parametrize(
    "doc",
    [
        {  # an asserter that is valid as more than one of oneOf's branches: the message prints the branches
            "components": [
                {
                    "type": "library",
                    "name": "a",
                    "patentAssertions": [{"assertionType": "ownership", "asserter": {"name": "x"}}],
                }
            ]
        },
        {
            "definitions": {
                "patents": [
                    {
                        "patentNumber": "US1",
                        "jurisdiction": "US",
                        "patentLegalStatus": "pending",
                        "patentAssignee": [{"name": "x"}],
                    }
                ]
            }
        },
        {"components": [{"type": "library", "name": "a", "licenses": [{"license": {"id": "MIT", "name": "MIT"}}]}]},
    ],
)
def test_messages_that_print_schemas_are_unchanged(doc: dict[str, Any]) -> None:
    """oneOf's "valid under each of" and not's messages print subschemas: they must read as before."""
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.7", "version": 1, **doc}
    version = VERSIONS["1.7"]
    got = _errors(validate._json_validator(version), doc)
    assert got and got == _errors(_plain(version), doc)
