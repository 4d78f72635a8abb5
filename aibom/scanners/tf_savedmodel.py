"""TensorFlow SavedModel: the `saved_model.pb` protobuf of a SavedModel directory (wire format, no TF).

Records saved_model_schema_version, each meta graph's tags, TensorFlow version and signature names.
The graph itself (and the `variables/` it points to) is skipped, never read into memory.
"""

from __future__ import annotations

import json

from ..bytecursor import Cursor
from ..inventory import Kind, ModelInfo
from ..protowire import LEN, VARINT, Budget, WireError, fields, text
from ..sniff import Probe
from . import register
from .base import Scanner, ScanOutput

MAX_FIELDS = 200_000
MAX_TEXT = 1024
MAX_ITEMS = 256


def parse(probe: Probe) -> tuple[int | None, list[dict[str, object]]]:
    """(schema version, [{tags, tensorflow_version, signatures}] per meta graph)."""
    cur = Cursor(probe)
    budget = Budget(MAX_FIELDS)
    schema: int | None = None
    graphs: list[dict[str, object]] = []
    for num, wt, val in fields(cur, cur.end, budget):
        if num == 1 and wt == VARINT:
            schema = val
        elif num == 2 and wt == LEN:
            if len(graphs) >= MAX_ITEMS:
                raise WireError(f"more than {MAX_ITEMS} meta graphs")
            graph: dict[str, object] = {"tags": [], "signatures": []}
            tags: list[str] = graph["tags"]  # type: ignore[assignment]
            signatures: list[str] = graph["signatures"]  # type: ignore[assignment]
            for n2, w2, v2 in fields(cur, cur.pos + val, budget):
                if n2 == 1 and w2 == LEN:  # MetaInfoDef
                    for n3, w3, v3 in fields(cur, cur.pos + v2, budget):
                        if n3 == 4 and w3 == LEN and len(tags) < MAX_ITEMS:
                            tags.append(text(cur, v3, MAX_TEXT))
                        elif n3 == 5 and w3 == LEN:
                            graph["tensorflow_version"] = text(cur, v3, MAX_TEXT)
                elif n2 == 5 and w2 == LEN and len(signatures) < MAX_ITEMS:  # signature_def map entry
                    for n3, w3, v3 in fields(cur, cur.pos + v2, budget):
                        if n3 == 1 and w3 == LEN:
                            signatures.append(text(cur, v3, MAX_TEXT))
            graphs.append(graph)
    if not graphs:
        raise WireError("no meta graph: not a SavedModel")
    return schema, graphs


@register
class SavedModelScanner(Scanner):
    family = "tf-savedmodel"
    priority = 51

    def identify(self, probe: Probe) -> str | None:
        # The file name is fixed by the format; the content must still start as a SavedModel does.
        if probe.name == "saved_model.pb" and probe.head[:1] in (b"\x08", b"\x12"):
            return "tf-savedmodel"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            schema, graphs = parse(probe)
        except WireError as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        name = probe.folder.rsplit("/", 1)[-1] if probe.folder else "saved_model"
        artifact = out.file_artifact(probe, Kind.MODEL, fmt, name=name)
        artifact.model = ModelInfo()
        props = artifact.properties
        if schema is not None:
            props["aibom:tf-savedmodel:schema_version"] = str(schema)
        props["aibom:tf-savedmodel:meta_graphs"] = str(len(graphs))
        props["aibom:tf-savedmodel:tags"] = json.dumps([g["tags"] for g in graphs])
        signatures = sorted({s for g in graphs for s in g["signatures"]})  # type: ignore[attr-defined]
        if signatures:
            props["aibom:tf-savedmodel:signatures"] = json.dumps(signatures)
        versions = sorted({str(g["tensorflow_version"]) for g in graphs if "tensorflow_version" in g})
        if versions:
            props["aibom:tf-savedmodel:tensorflow_version"] = ",".join(versions)
