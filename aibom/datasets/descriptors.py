"""Dataset metadata documents: Hugging Face dataset cards, `dataset_info.json`, `state.json`,
Croissant JSON-LD, Frictionless `datapackage.json` and DVC `.dvc` / `dvc.yaml` / `dvc.lock`.

Each parser takes already-parsed, size-bounded data and returns a Descriptor; none reads files.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from typing import Any

from ..hf_license import card_licenses
from ..inventory import License, Provenance
from ..license_ids import spdx_expression
from ..yaml_load import YamlError, load_yaml
from .facts import FormatError

MAX_FRONT_MATTER = 256 << 10
MAX_ITEMS = 1000
#: Front-matter keys only dataset cards use (model cards have base_model, pipeline_tag, model-index ...).
DATASET_KEYS = frozenset(
    {
        "task_categories", "size_categories", "source_datasets", "pretty_name", "configs", "dataset_info",
        "annotations_creators", "language_creators", "multilinguality", "task_ids", "paperswithcode_id",
    }
)  # fmt: skip
MODEL_KEYS = frozenset({"base_model", "pipeline_tag", "model-index", "library_name", "model_name"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


@dataclass
class Descriptor:
    """What a metadata document says about one dataset."""

    kind: str
    name: str | None = None
    hub_id: str | None = None
    description: str | None = None
    licenses: list[License] = field(default_factory=list)
    rows: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    provenance: list[Provenance] = field(default_factory=list)
    target: str | None = None  # DVC: the path (relative to the document's folder) the entry describes


def _s(value: object, limit: int = 500) -> str | None:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _str_list(value: object) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip()[:200] for v in values[:MAX_ITEMS] if isinstance(v, str) and v.strip()]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def hub_id(value: object) -> str | None:
    text = _s(value, 200)
    return text if text and _HUB_ID.match(text) else None


# --- Hugging Face dataset cards -------------------------------------------------------------------


def front_matter(text: str) -> dict[str, Any] | None:
    """The YAML front matter of a card, or None when the text has none. Raises FormatError if broken."""
    if not text.startswith("---"):
        return None
    lines = text[: MAX_FRONT_MATTER + 8].split("\n")
    if lines[0].strip() != "---":
        return None
    for i, line in enumerate(lines[1:], 1):
        if line.rstrip() in ("---", "..."):
            try:
                data = load_yaml("\n".join(lines[1:i]), MAX_FRONT_MATTER)
            except YamlError as exc:
                raise FormatError(f"front matter: {exc}") from None
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise FormatError("front matter is not a mapping")
            return data
    raise FormatError("front matter is not closed (or larger than 256 KiB)")


def is_dataset_card(meta: dict[str, Any]) -> bool:
    keys = set(meta)
    return bool(keys & DATASET_KEYS) and not keys & MODEL_KEYS


def parse_card(meta: dict[str, Any]) -> Descriptor:
    d = Descriptor("hf-dataset-card", name=_s(meta.get("pretty_name"), 200))
    d.licenses = card_licenses(meta.get("license"), meta.get("license_name"), meta.get("license_link"))
    for key, prop in (
        ("task_categories", "task-categories"),
        ("task_ids", "task-ids"),
        ("size_categories", "size-categories"),
        ("language", "language"),
        ("source_datasets", "source-datasets"),
        ("annotations_creators", "annotations-creators"),
    ):
        if values := _str_list(meta.get(key)):
            d.properties[f"aibom:dataset:{prop}"] = ",".join(values)[:2000]
    for source in _str_list(meta.get("source_datasets")):
        if source not in ("original", "extended") and not source.startswith("extended|"):
            d.provenance.append(Provenance("source-dataset", source))
    configs = meta.get("configs")
    if isinstance(configs, list):
        names = [c.get("config_name") for c in configs[:MAX_ITEMS] if isinstance(c, dict)]
        if names := [n for n in names if isinstance(n, str)]:
            d.properties["aibom:dataset:configs"] = ",".join(names)[:2000]
    info = meta.get("dataset_info")
    d.rows = _split_rows(info if isinstance(info, dict) else (info[0] if isinstance(info, list) and info else None))
    return d


def _split_rows(info: object) -> int | None:
    """Total `num_examples` over the `splits` of a dataset_info mapping (card or JSON)."""
    if not isinstance(info, dict):
        return None
    splits = info.get("splits")
    items = splits.values() if isinstance(splits, dict) else splits if isinstance(splits, list) else []
    counts = [_int(s.get("num_examples")) for s in list(items)[:MAX_ITEMS] if isinstance(s, dict)]
    counts = [c for c in counts if c is not None]
    return sum(counts) if counts else None


# --- datasets library files -------------------------------------------------------------------


def parse_dataset_info(doc: dict[str, Any]) -> Descriptor:
    d = Descriptor("hf-dataset-info", name=_s(doc.get("dataset_name") or doc.get("builder_name"), 200))
    d.description = _s(doc.get("description"), 2000)
    lic = _s(doc.get("license"), 200)
    if lic:
        expr = spdx_expression(lic)
        d.licenses = [License(expression=expr)] if expr else card_licenses(lic)
    if homepage := _s(doc.get("homepage"), 500):
        d.provenance.append(Provenance("homepage", homepage))
    d.rows = _split_rows(doc)
    if config := _s(doc.get("config_name"), 200):
        d.properties["aibom:dataset:configs"] = config
    features = doc.get("features")
    if isinstance(features, dict):
        d.properties["aibom:dataset:features"] = ",".join(list(features)[:64])[:2000]
    return d


def parse_state(doc: dict[str, Any]) -> Descriptor:
    d = Descriptor("hf-dataset-state")
    files = doc.get("_data_files")
    if isinstance(files, list):
        names = [f.get("filename") for f in files[:MAX_ITEMS] if isinstance(f, dict)]
        d.properties["aibom:dataset:data-files"] = ",".join(n for n in names if isinstance(n, str))[:2000]
    if fingerprint := _s(doc.get("_fingerprint"), 100):
        d.properties["aibom:dataset:fingerprint"] = fingerprint
    if split := _s(doc.get("_split"), 100):
        d.properties["aibom:dataset:split"] = split
    return d


# --- Croissant and Frictionless -------------------------------------------------------------------


def is_croissant(doc: dict[str, Any]) -> bool:
    context = doc.get("@context")
    ctx = str(context)[:4000] if context is not None else ""
    return "mlcommons.org/croissant" in ctx or (
        str(doc.get("@type", "")).lower() in ("sc:dataset", "schema:dataset", "dataset") and "recordSet" in doc
    )


def parse_croissant(doc: dict[str, Any]) -> Descriptor:
    d = Descriptor("croissant", name=_s(doc.get("name"), 200), description=_s(doc.get("description"), 2000))
    for lic in _str_list(doc.get("license")):
        d.licenses.append(_license_from_url_or_id(lic))
    if url := _s(doc.get("url"), 500):
        d.provenance.append(Provenance("homepage", url))
        if "huggingface.co/datasets/" in url:
            d.hub_id = hub_id(url.split("huggingface.co/datasets/", 1)[1].strip("/"))
    dist = doc.get("distribution")
    if isinstance(dist, list):
        d.properties["aibom:dataset:distribution-count"] = str(len(dist))
    records = doc.get("recordSet")
    if isinstance(records, list):
        names = [r.get("name") for r in records[:MAX_ITEMS] if isinstance(r, dict)]
        d.properties["aibom:dataset:record-sets"] = ",".join(n for n in names if isinstance(n, str))[:2000]
    return d


_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)", re.IGNORECASE)


#: Open Data Commons names and URLs as data packages write them -> SPDX ids.
_ODC = {"pddl": "PDDL-1.0", "odbl": "ODbL-1.0", "by": "ODC-By-1.0"}
_ODC_NAME = re.compile(r"^odc-(pddl|odbl|by)(-1\.0)?$", re.IGNORECASE)
_ODC_URL = re.compile(r"opendatacommons\.org/licenses/(pddl|odbl|by)\b", re.IGNORECASE)


def _license_from_url_or_id(value: str) -> License:
    if expr := spdx_expression(value):
        return License(expression=expr)
    if m := (_ODC_NAME.match(value) or _ODC_URL.search(value)):
        return License(expression=_ODC[m.group(1).lower()])
    if m := _CC_URL.search(value):
        _, terms, version = m.groups()
        cand = "CC0-1.0" if terms.lower() == "zero" else f"CC-{terms.upper()}-{version}"
        if expr := spdx_expression(cand):
            return License(expression=expr, url=value if value.startswith("http") else None)
    if "spdx.org/licenses/" in value:
        cand = value.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
        if expr := spdx_expression(cand):
            return License(expression=expr)
    return License(name=value[:200], url=value if value.startswith("http") else None)


def parse_datapackage(doc: dict[str, Any]) -> Descriptor:
    d = Descriptor("frictionless-datapackage", name=_s(doc.get("title") or doc.get("name"), 200))
    d.description = _s(doc.get("description"), 2000)
    licenses = doc.get("licenses")
    for lic in licenses[:16] if isinstance(licenses, list) else []:
        if isinstance(lic, dict):
            raw = _s(lic.get("name")) or _s(lic.get("path")) or _s(lic.get("title"))
            if raw:
                found = _license_from_url_or_id(raw)
                if found.expression is None and (path := _s(lic.get("path"))):
                    found.url = path
                d.licenses.append(found)
    resources = doc.get("resources")
    if isinstance(resources, list):
        d.properties["aibom:dataset:resources"] = str(len(resources))
        names = [r.get("path") for r in resources[:MAX_ITEMS] if isinstance(r, dict)]
        d.properties["aibom:dataset:data-files"] = ",".join(n for n in names if isinstance(n, str))[:2000]
    for source in doc.get("sources", [])[:16] if isinstance(doc.get("sources"), list) else []:
        if isinstance(source, dict) and (path := _s(source.get("path"), 500)):
            d.provenance.append(Provenance("source", path))
    return d


# --- DVC ------------------------------------------------------------------------------------------


def parse_dvc_file(doc: object, remote: str | None) -> list[Descriptor]:
    """A `.dvc` file: one Descriptor per tracked output, with its md5 (data need not be present)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list):
        raise FormatError("no `outs` list")
    return [_dvc_out(o, remote) for o in doc["outs"][:MAX_ITEMS] if isinstance(o, dict) and _s(o.get("path"))]


def parse_dvc_lock(doc: object, remote: str | None) -> list[Descriptor]:
    """`dvc.lock` (or `dvc.yaml`): outputs of every stage, with md5s where the lock gives them."""
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
        raise FormatError("no `stages` mapping")
    out = []
    for stage_name, stage in list(doc["stages"].items())[:MAX_ITEMS]:
        if not isinstance(stage, dict) or not isinstance(stage.get("outs"), list):
            continue
        for o in stage["outs"][:MAX_ITEMS]:
            if isinstance(o, str):
                o = {"path": o}
            elif isinstance(o, dict) and len(o) == 1 and not _s(o.get("path")):
                o = {"path": next(iter(o))}  # dvc.yaml: `- path: {cache: false}`
            if isinstance(o, dict) and _s(o.get("path")):
                d = _dvc_out(o, remote)
                d.properties["aibom:dataset:dvc-stage"] = str(stage_name)[:200]
                out.append(d)
    return out


def _dvc_out(o: dict[str, Any], remote: str | None) -> Descriptor:
    d = Descriptor("dvc", target=_s(o["path"]))
    md5 = _s(o.get("md5"), 100)
    if md5:
        d.provenance.append(Provenance("dvc-md5", md5))
        d.properties["aibom:dataset:dvc-md5"] = md5
    if (size := _int(o.get("size"))) is not None:
        d.properties["aibom:dataset:dvc-size"] = str(size)
    if (nfiles := _int(o.get("nfiles"))) is not None:
        d.properties["aibom:dataset:dvc-files"] = str(nfiles)
    if remote := (_s(o.get("remote"), 500) or remote):
        d.provenance.append(Provenance("dvc-remote", remote))
    return d


def dvc_default_remote(config_text: str) -> str | None:
    """The URL of the default remote in a `.dvc/config` (INI), if any."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(config_text)
    except configparser.Error:
        return None
    default = parser.get("core", "remote", fallback=None)
    for section in parser.sections():
        m = re.match(r"""^\s*'?\s*remote\s+"(.+)"\s*'?\s*$""", section)
        if m and (default is None or m.group(1) == default):
            url = parser.get(section, "url", fallback=None)
            if url:
                return url.strip()[:500]
    return None


def parse_yaml_doc(text: str, limit: int) -> object:
    try:
        return load_yaml(text, limit)
    except YamlError as exc:
        raise FormatError(f"invalid YAML: {exc}") from None
