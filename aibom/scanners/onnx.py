"""ONNX: the ModelProto read from the protobuf wire format (no onnx import), skipping tensor data.

Records ir_version, producer, domain, model_version, doc_string, opsets, metadata_props, graph name,
initializer count and parameter count (dims products), and every external-data location. A location
that is absolute or leaves the model's folder is code-on-load territory (`unsafe-code` error: loading
reads an arbitrary file); a referenced file that is missing or too short is an `integrity` error.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field

from .. import readdeps
from ..bytecursor import Cursor
from ..inventory import Category, Finding, Kind, ModelInfo, Severity
from ..protowire import LEN, VARINT, Budget, WireError, fields, packed_varints, peek_fields, signed, text
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

MAX_DEPTH = 16  # graphs inside node attributes inside graphs ...
MAX_FIELDS = 2_000_000
MAX_DIMS = 64
MAX_TEXT = 4096
MAX_LOCATIONS = 100

#: TensorProto.DataType
DATA_TYPES = {
    1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
    9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
    20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1", 24: "FLOAT8E8M0",
    25: "UINT2", 26: "INT2",
}  # fmt: skip

#: ModelProto field number -> wire type, for identification.
_MODEL_FIELDS = {1: VARINT, 2: LEN, 3: LEN, 4: LEN, 5: VARINT, 6: LEN, 7: LEN, 8: LEN, 14: LEN, 20: LEN, 25: LEN}
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


@dataclass
class ExternalRef:
    tensor: str
    location: str
    offset: int = 0
    length: int | None = None


@dataclass
class OnnxModel:
    ir_version: int | None = None
    producer_name: str | None = None
    producer_version: str | None = None
    domain: str | None = None
    model_version: int | None = None
    doc_string: str | None = None
    graph_name: str | None = None
    opsets: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    initializers: int = 0
    parameters: int = 0
    dtypes: dict[str, int] = field(default_factory=dict)
    external: list[ExternalRef] = field(default_factory=list)


class _Parser:
    def __init__(self, probe: Probe) -> None:
        self.cur = Cursor(probe)
        self.budget = Budget(MAX_FIELDS)
        self.model = OnnxModel()

    def _fields(self, length: int):  # type: ignore[no-untyped-def]
        return fields(self.cur, self.cur.pos + length, self.budget)

    def run(self) -> OnnxModel:
        m = self.model
        for num, wt, val in fields(self.cur, self.cur.end, self.budget):
            if num == 1 and wt == VARINT:
                m.ir_version = val
            elif num == 5 and wt == VARINT:
                m.model_version = signed(val)
            elif num in (2, 3, 4, 6) and wt == LEN:
                value = text(self.cur, val, MAX_TEXT)
                setattr(m, {2: "producer_name", 3: "producer_version", 4: "domain", 6: "doc_string"}[num], value)
            elif num == 7 and wt == LEN:
                self.graph(val, depth=1, top=True)
            elif num == 8 and wt == LEN:
                domain, version = "", 0
                for n2, w2, v2 in self._fields(val):
                    if n2 == 1 and w2 == LEN:
                        domain = text(self.cur, v2, MAX_TEXT)
                    elif n2 == 2 and w2 == VARINT:
                        version = signed(v2)
                m.opsets[domain or "ai.onnx"] = version
            elif num == 14 and wt == LEN:
                key, value = self.entry(val)
                if len(m.metadata) < 1000:
                    m.metadata[key] = value
        if m.ir_version is None:
            raise WireError("no ir_version: not an ONNX model")
        return m

    def entry(self, length: int) -> tuple[str, str]:
        key = value = ""
        for num, wt, val in self._fields(length):
            if num == 1 and wt == LEN:
                key = text(self.cur, val, MAX_TEXT)
            elif num == 2 and wt == LEN:
                value = text(self.cur, val, MAX_TEXT)
        return key, value

    def graph(self, length: int, depth: int, top: bool) -> None:
        if depth > MAX_DEPTH:
            raise WireError(f"graphs nested deeper than {MAX_DEPTH}")
        for num, wt, val in self._fields(length):
            if wt != LEN:
                continue
            if num == 2 and top:
                self.model.graph_name = text(self.cur, val, MAX_TEXT)
            elif num == 5:
                self.tensor(val, count=top)
            elif num == 1:
                self.node(val, depth)

    def node(self, length: int, depth: int) -> None:
        for num, wt, val in self._fields(length):
            if num == 5 and wt == LEN:  # AttributeProto
                for n2, w2, v2 in self._fields(val):
                    if w2 != LEN:
                        continue
                    if n2 in (5, 10):  # t, tensors
                        self.tensor(v2, count=False)
                    elif n2 in (6, 11):  # g, graphs
                        self.graph(v2, depth + 1, top=False)

    def tensor(self, length: int, count: bool) -> None:
        dims: list[int] = []
        dtype, name, location = 0, "", 0
        external: dict[str, str] = {}
        for num, wt, val in self._fields(length):
            if num == 1 and wt == VARINT:
                dims.append(signed(val))
            elif num == 1 and wt == LEN:
                dims.extend(signed(v) for v in packed_varints(self.cur, val, MAX_DIMS))
            elif num == 2 and wt == VARINT:
                dtype = val
            elif num == 8 and wt == LEN:
                name = text(self.cur, val, MAX_TEXT)
            elif num == 13 and wt == LEN:
                key, value = self.entry(val)
                if len(external) < 16:
                    external[key] = value
            elif num == 14 and wt == VARINT:
                location = val
            if len(dims) > MAX_DIMS:
                raise WireError(f"tensor {name!r} has more than {MAX_DIMS} dimensions")
        if location == _EXTERNAL or "location" in external:
            ref = ExternalRef(name, external.get("location", ""))
            for key in ("offset", "length"):
                if external.get(key, "").isdigit():
                    setattr(ref, key, int(external[key]))
            self.model.external.append(ref)
        if count:
            numel = 1
            for d in dims:
                numel *= max(d, 0)
            m = self.model
            m.initializers += 1
            m.parameters += numel
            dname = DATA_TYPES.get(dtype, f"type{dtype}")
            m.dtypes[dname] = m.dtypes.get(dname, 0) + numel


def parse(probe: Probe) -> OnnxModel:
    return _Parser(probe).run()


def looks_like_onnx(head: bytes, name: str) -> bool:
    """ModelProto starts with ir_version (field 1); without the `.onnx` hint, insist on ONNX-only fields."""
    if len(head) < 2 or head[0] != 0x08 or not 1 <= head[1] <= 100:
        return False
    if name.lower().endswith(".onnx"):
        return True  # claimed by name and first bytes: anything wrong after this is `unreadable`
    seen = peek_fields(head, 16)
    if not seen or any(_MODEL_FIELDS.get(num) != wt for num, wt, _ in seen):
        return False
    return any(num in (7, 8) for num, _, _ in seen)


_DRIVE = re.compile(r"^[A-Za-z]:")


def escapes(location: str) -> bool:
    """Absolute, drive-qualified, or climbing out of the model's folder."""
    loc = location.replace("\\", "/")
    if not loc or loc.startswith("/") or _DRIVE.match(loc):
        return True
    return posixpath.normpath(loc).split("/")[0] == ".."


@register
class OnnxScanner(Scanner):
    family = "onnx"
    priority = 50

    def identify(self, probe: Probe) -> str | None:
        return "onnx" if looks_like_onnx(probe.head, probe.name) else None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            m = parse(probe)
        except WireError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        stem = probe.name[:-5] if probe.name.lower().endswith(".onnx") else probe.name
        if stem == "model" and m.graph_name:
            stem = m.graph_name
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=stem)
        artifact.model = ModelInfo(parameter_count=m.parameters, tensor_count=m.initializers, dtypes=m.dtypes)
        if m.model_version:
            artifact.version = str(m.model_version)
        if m.doc_string:
            artifact.description = m.doc_string
        props = artifact.properties
        props["aibom:onnx:ir_version"] = str(m.ir_version)
        for key, value in (
            ("producer_name", m.producer_name),
            ("producer_version", m.producer_version),
            ("domain", m.domain),
            ("graph_name", m.graph_name),
        ):
            if value:
                props[f"aibom:onnx:{key}"] = value
        if m.model_version is not None:
            props["aibom:onnx:model_version"] = str(m.model_version)
        if m.opsets:
            props["aibom:onnx:opset_import"] = ",".join(f"{d}={v}" for d, v in sorted(m.opsets.items()))
        for key, value in m.metadata.items():
            props[f"aibom:onnx:metadata:{key}"] = value
        if m.external:
            locations = sorted({ref.location for ref in m.external})
            props["aibom:onnx:external_data"] = json.dumps(locations[:MAX_LOCATIONS])
            self._check_external(probe, m.external, out, artifact.ref)

    def _check_external(self, probe: Probe, refs: list[ExternalRef], out: ScanOutput, ref: str) -> None:
        folder = os.path.dirname(probe.path)
        reported: set[str] = set()
        for ext in refs:
            if ext.location in reported or len(reported) >= MAX_LOCATIONS:
                continue
            if not ext.location:
                reported.add(ext.location)
                out.findings.append(self._missing(probe, ref, ext, "has no location"))
                continue
            if escapes(ext.location):
                reported.add(ext.location)
                out.findings.append(
                    Finding(
                        rule="onnx-external-data-escape",
                        category=Category.UNSAFE_CODE,
                        severity=Severity.ERROR,
                        message=f"tensor {ext.tensor!r} reads external data from {ext.location!r}, outside the "
                        "model's folder: loading the model reads an arbitrary file",
                        location=probe.relpath,
                        component=ref,
                        remediation="Keep external data files next to the model, referenced by relative names.",
                    )
                )
                continue
            target = os.path.join(folder, *ext.location.replace("\\", "/").split("/"))
            problem = None
            readdeps.note(target)
            try:
                size = os.stat(target).st_size
                if ext.length is not None and ext.offset + ext.length > size:
                    problem = f"needs bytes up to {ext.offset + ext.length} but the file holds {size}"
            except OSError:
                problem = "is missing"
            if problem:
                reported.add(ext.location)
                out.findings.append(self._missing(probe, ref, ext, problem))

    @staticmethod
    def _missing(probe: Probe, ref: str, ext: ExternalRef, problem: str) -> Finding:
        return Finding(
            rule="onnx-external-data-missing",
            category=Category.INTEGRITY,
            severity=Severity.ERROR,
            message=f"external data file {ext.location!r} (tensor {ext.tensor!r}) {problem}",
            location=probe.relpath,
            component=ref,
            remediation="Ship the external data file with the model.",
        )
