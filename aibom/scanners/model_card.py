"""Model cards: the YAML front matter of a Hugging Face `README.md` (license, datasets, base models,
task, library, languages, tags and `model-index` evaluation results).

YAML is read with `yaml.safe_load` only, after a bounded pass over its events: front matter over
1 MiB, any alias (the "billion laughs" shape), deep nesting or too many nodes make it `unreadable`.
Dataset cards (their keys are `task_categories`, `size_categories` ...) are left to dataset scanners.
"""

from __future__ import annotations

import re
from typing import Any

from ..inventory import Kind, ModelDirFile
from ..sniff import Probe, ReadError, looks_like_text
from . import register
from ._facts import text, texts
from .base import Scanner, ScanOutput

MAX_FRONT_MATTER = 1 << 20
MAX_DEPTH = 32
MAX_EVENTS = 50_000  # real cards, model-index included, have a few thousand
MAX_METRICS = 256

_README = re.compile(r"^readme\.(md|markdown)$", re.IGNORECASE)
_OPEN = re.compile(rb"^(?:\xef\xbb\xbf)?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
#: Keys only dataset cards have; a card with these and none of MODEL_KEYS is not a model card.
DATASET_KEYS = ("task_categories", "size_categories", "source_datasets", "dataset_info", "pretty_name", "configs")
MODEL_KEYS = ("pipeline_tag", "base_model", "library_name", "model-index", "model_name", "datasets")
_DATASET_HINT = re.compile(rb"^(task_categories|size_categories|source_datasets|dataset_info)\s*:", re.MULTILINE)
_MODEL_HINT = re.compile(rb"^(pipeline_tag|base_model|library_name|model-index)\s*:", re.MULTILINE)
#: A card names at least one of these at the top level; other front matter (a site generator's) is not read.
_CARD_HINT = re.compile(
    rb"^(license|pipeline_tag|base_model|library_name|model-index|model_name|datasets|language|tags)\s*:", re.MULTILINE
)


class FrontMatterError(ValueError):
    """The front matter cannot be read safely; the message says why."""


def front_matter(text_: str) -> str | None:
    """The YAML between the opening `---` line and the next `---`/`...` line, or None if there is none."""
    m = _OPEN.match(text_.encode("utf-8")[:8])
    if not m:
        return None
    body = text_.split("\n", 1)[1] if "\n" in text_ else ""
    close = _CLOSE.search(body)
    if close is None:
        raise FrontMatterError("front matter is not closed by a '---' line")
    return body[: close.start()]


def check_events(yaml_text: str) -> None:
    """Reject what safe_load would accept but what could blow up later: aliases, depth, size."""
    import yaml  # here, not with the scanners: most rescans read no card

    # only parsed (no objects are constructed): libyaml's parser when available, for speed
    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = events = 0
    try:
        for event in yaml.parse(yaml_text, Loader=safe_loader):
            events += 1
            if events > MAX_EVENTS:
                raise FrontMatterError(f"front matter has over {MAX_EVENTS} YAML nodes")
            if isinstance(event, yaml.AliasEvent):
                raise FrontMatterError("front matter uses YAML aliases, which model cards never need")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise FrontMatterError(f"front matter nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"front matter is not valid YAML ({exc.__class__.__name__})") from None


def parse_front_matter(yaml_text: str) -> dict[str, Any]:
    if len(yaml_text.encode("utf-8")) > MAX_FRONT_MATTER:
        raise FrontMatterError(f"front matter is over the {MAX_FRONT_MATTER}-byte limit")
    check_events(yaml_text)
    import yaml

    try:
        doc = yaml.safe_load(yaml_text)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise FrontMatterError(f"front matter is not valid YAML ({exc.__class__.__name__})") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise FrontMatterError("front matter is not a YAML mapping")
    return doc


def metrics(model_index: Any) -> tuple[str | None, list[dict[str, str]]]:
    """(model name, [{type, value, slice}]) from a `model-index` list."""
    name = None
    out: list[dict[str, str]] = []
    if not isinstance(model_index, list):
        return None, out
    for entry in model_index[:16]:
        if not isinstance(entry, dict):
            continue
        name = name or text(entry.get("name"), 200)
        results = entry.get("results")
        for result in results[:MAX_METRICS] if isinstance(results, list) else []:
            if not isinstance(result, dict):
                continue
            dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
            task = result.get("task") if isinstance(result.get("task"), dict) else {}
            where = text(dataset.get("name"), 200) or text(dataset.get("type"), 200)
            if where and (split := text(dataset.get("split"), 50)):
                where = f"{where} ({split})"
            if where and (task_type := text(task.get("type"), 100)):
                where = f"{task_type}: {where}"
            items = result.get("metrics")
            for metric in items[:MAX_METRICS] if isinstance(items, list) else []:
                if not isinstance(metric, dict):
                    continue
                kind = text(metric.get("type"), 100) or text(metric.get("name"), 100)
                value = text(metric.get("value"), 100)
                if kind and value is not None and len(out) < MAX_METRICS:
                    item = {"type": kind, "value": value}
                    if where:
                        item["slice"] = where
                    out.append(item)
    return name, out


def card_facts(doc: dict[str, Any]) -> dict[str, Any]:
    name, results = metrics(doc.get("model-index"))
    return {
        "licenses": texts(doc.get("license"), 16),
        "license_name": text(doc.get("license_name"), 200),
        "license_link": text(doc.get("license_link")),
        "datasets": texts(doc.get("datasets")),
        "base_models": texts(doc.get("base_model"), 64),
        "base_model_relation": text(doc.get("base_model_relation"), 50),
        "pipeline_tag": text(doc.get("pipeline_tag"), 100),
        "library_name": text(doc.get("library_name"), 100),
        "languages": texts(doc.get("language"), 64),
        "tags": texts(doc.get("tags"), 64),
        "model_name": text(doc.get("model_name"), 200) or name,
        "metrics": results,
        "model_keys": sorted(k for k in MODEL_KEYS if k in doc),
    }


@register
class ModelCardScanner(Scanner):
    family = "model-card"
    priority = 25

    def identify(self, probe: Probe) -> str | None:
        head = probe.head
        if not _README.match(probe.name) or not _OPEN.match(head[:8]) or not looks_like_text(head):
            return None
        if _DATASET_HINT.search(head) and not _MODEL_HINT.search(head):
            return None  # a dataset card
        if not _CARD_HINT.search(head):
            return None
        return "hf-model-card"

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        limit = MAX_FRONT_MATTER + 4096
        raw = probe.read(0, min(probe.size, limit))
        if len(raw) < min(probe.size, limit):
            raise ReadError("file shrank while being read")
        try:
            body = front_matter(raw.decode("utf-8-sig", errors="replace"))
            if body is None:
                return
            doc = parse_front_matter(body)
        except FrontMatterError as exc:
            if probe.size > limit and "not closed" in str(exc):
                exc = FrontMatterError(f"front matter is over the {MAX_FRONT_MATTER}-byte limit")
            out.unreadable(probe, fmt, str(exc))
            return
        if any(k in doc for k in DATASET_KEYS) and not any(k in doc for k in MODEL_KEYS):
            return
        facts = card_facts(doc)
        artifact = out.file_artifact(probe, Kind.FILE, fmt, name=probe.name)
        artifact.model_dir_file = ModelDirFile("card", {k: v for k, v in facts.items() if v not in (None, [], {})})
