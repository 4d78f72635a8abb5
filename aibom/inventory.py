"""Neutral inventory records that scanners fill and BOM writers read.

Nothing here knows about CycloneDX or SPDX: these are plain facts about what a project ships.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What an artifact is, independent of any BOM format."""

    MODEL = "model"
    DATASET = "dataset"
    LIBRARY = "library"
    FILE = "file"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Category(StrEnum):
    """The fixed set of finding categories (see DESIGN.md: the findings JSON contract)."""

    UNSAFE_CODE = "unsafe-code"
    PROPRIETARY_BLOB = "proprietary-blob"
    MISSING_DATA_PROVENANCE = "missing-data-provenance"
    MISSING_LICENSE = "missing-license"
    UNKNOWN_LICENSE = "unknown-license"
    LICENSE_CONFLICT = "license-conflict"
    INTEGRITY = "integrity"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an artifact was seen: a root-relative POSIX path, optionally a line or byte offset."""

    location: str
    line: int | None = None
    offset: int | None = None
    symbol: str | None = None


@dataclass(slots=True)
class License:
    """A license as found. `expression` is a valid SPDX expression when one is known; otherwise `name`."""

    expression: str | None = None
    name: str | None = None
    url: str | None = None
    acknowledgement: str = "declared"  # declared | concluded
    source: str | None = None  # root-relative path of the file that stated it

    @property
    def label(self) -> str:
        return self.expression or self.name or "unknown"

    def as_concluded(self) -> License:
        """A copy acknowledged as concluded (`dataclasses.replace` costs ten times as much: one per file of a
        licensed folder)."""
        return License(self.expression, self.name, self.url, "concluded", self.source)


@dataclass(frozen=True)
class Provenance:
    """Where an artifact came from (a hub id, an LFS object, a VCS URL ...)."""

    kind: str
    uri: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class Finding:
    """A problem found while scanning or checking. `component` is the artifact ref it concerns, if any."""

    rule: str
    category: Category
    severity: Severity
    message: str
    location: str | None = None
    component: str | None = None
    remediation: str | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Metric:
    """One evaluation result from a model card (`model-index`): metric type, value, and what it was measured on."""

    type: str
    value: str
    slice: str | None = None


@dataclass(frozen=True)
class ExternalRef:
    """A reference to something outside the component (CycloneDX externalReferences type and URL)."""

    type: str  # e.g. "model-card", "website"
    url: str
    comment: str | None = None


@dataclass
class ModelDirFile:
    """A metadata file of a model directory (config, card, adapter config, tokenizer, shard index), parsed.

    Scanners fill `facts` with plain JSON-like values; `aibom.model_dirs` groups these per folder.
    """

    role: str  # config | generation-config | adapter-config | tokenizer | tokenizer-config | card | weight-index
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ModelInfo:
    """Model facts read from headers and cards."""

    parameter_count: int | None = None
    tensor_count: int | None = None
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> parameters stored in it
    architecture_family: str | None = None
    architecture: str | None = None
    task: str | None = None
    inputs: list[str] = field(default_factory=list)  # data formats it takes (text, image, audio ...)
    outputs: list[str] = field(default_factory=list)  # data formats it produces
    properties: dict[str, str] = field(default_factory=dict)  # cdx:ai-ml:* facts beyond the above
    datasets: list[str] = field(default_factory=list)  # refs of the dataset artifacts it was trained/evaluated on
    metrics: list[Metric] = field(default_factory=list)

    @property
    def primary_dtype(self) -> str | None:
        if not self.dtypes:
            return None
        return max(sorted(self.dtypes), key=lambda d: self.dtypes[d])


@dataclass(slots=True)
class Artifact:
    """One thing the project ships: a model, a dataset, a library or an opaque file.

    `ref` is stable across runs (derived from a path or a purl) and unique within an inventory.
    `content_path` is the absolute path whose bytes are the artifact and must be hashed, if any.
    """

    kind: Kind
    name: str
    ref: str
    format: str | None = None
    version: str | None = None
    purl: str | None = None
    description: str | None = None
    sha256: str | None = None
    size: int | None = None
    content_path: str | None = None
    licenses: list[License] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    provenance: list[Provenance] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # other algorithms, e.g. pinned wheel hashes
    model: ModelInfo | None = None
    properties: dict[str, str] = field(default_factory=dict)
    #: Set on a model directory's metadata files by the scanners; consumed by `aibom.model_dirs`.
    model_dir_file: ModelDirFile | None = None
    #: The files that make up this artifact (a model directory's weights and metadata), nested in the BOM.
    parts: list[Artifact] = field(default_factory=list)
    #: Refs of the artifacts this one was derived from (base models): CycloneDX pedigree.ancestors.
    ancestors: list[str] = field(default_factory=list)
    #: Refs of the artifacts this one depends on (its datasets and base models): CycloneDX dependencies.
    depends_on: list[str] = field(default_factory=list)
    external_refs: list[ExternalRef] = field(default_factory=list)
    #: Named by a card or header but not present in the scanned tree (a hub model or dataset).
    external: bool = False

    @property
    def location(self) -> str | None:
        return self.evidence[0].location if self.evidence else None

    def walk(self) -> Iterator[Artifact]:
        """This artifact and its parts, depth first."""
        yield self
        for part in self.parts:
            yield from part.walk()


@dataclass(frozen=True)
class Skip:
    """A path the walk did not read, and why. Nothing is dropped silently."""

    path: str
    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class LicenseFile:
    """A license (or notice) file found in the tree; it speaks for its folder and below."""

    path: str
    folder: str  # root-relative POSIX folder, "" for the root
    license: License | None
    notice: bool = False


@dataclass
class Stats:
    files: int = 0
    bytes: int = 0
    hashed_files: int = 0
    hashed_bytes: int = 0
    cache_hits: int = 0
    scans_cached: int = 0  # files answered by the scan-result cache (not sniffed, scanned or hashed)
    components_rendered: int = 0  # CycloneDX JSON components rendered by the library this run
    components_reused: int = 0  # ... and taken from the BOM fragment cache
    formats: dict[str, int] = field(default_factory=dict)


@dataclass
class Inventory:
    """Everything one scan found."""

    root_name: str
    artifacts: list[Artifact] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    license_files: list[LicenseFile] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)  # root-relative virtualenv folders
    warnings: list[str] = field(default_factory=list)  # about the run itself (e.g. the cache), not the tree
    stats: Stats = field(default_factory=Stats)

    def all_artifacts(self) -> Iterator[Artifact]:
        """Every artifact, including the parts nested in model directories."""
        for artifact in self.artifacts:
            yield from artifact.walk()

    def root_licenses(self) -> list[License]:
        return [lf.license for lf in self.license_files if lf.folder == "" and lf.license and not lf.notice]
