"""Dataset files identified by content: Parquet, Arrow IPC / Feather, TFRecord, WebDataset shards,
CSV/TSV and JSON Lines; and media files (images, audio, plain text) that folders of them make
into one dataset (grouped after the scan by `aibom.datasets.group`).
"""

from __future__ import annotations

from ..datasets import arrow, parquet, tabular, tar, tfrecord
from ..datasets.facts import MEMBER, DatasetFacts, FormatError
from ..inventory import Kind
from ..sniff import Probe, ReadError, looks_like_text
from . import register
from .base import Scanner, ScanOutput
from .binary import signature

MEDIA_FORMATS = frozenset({"png", "jpeg", "gif", "webp", "wav", "flac", "ogg", "mp3"})
TEXT_MEMBER_EXTENSIONS = (".txt",)


def record(out: ScanOutput, probe: Probe, fmt: str, facts: DatasetFacts) -> None:
    artifact = out.file_artifact(probe, Kind.DATASET, fmt)
    props = artifact.properties
    if facts.rows is not None:
        props["aibom:dataset:rows"] = str(facts.rows) + ("" if facts.rows_exact else "+")
    if facts.column_count is not None:
        props["aibom:dataset:column-count"] = str(facts.column_count)
        props["aibom:dataset:columns"] = ",".join(facts.columns)
    props.update(facts.properties)


@register
class DatasetFileScanner(Scanner):
    """Binary dataset containers, recognised by their magic bytes."""

    family = "dataset-file"
    priority = 60

    def identify(self, probe: Probe) -> str | None:
        if parquet.is_parquet(probe):
            return "parquet"
        if kind := arrow.kind_of(probe):
            return kind
        if tfrecord.is_tfrecord(probe.head):
            return "tfrecord"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            if fmt == "parquet":
                facts = parquet.read_parquet(probe)
            elif fmt == "tfrecord":
                facts = tfrecord.read_tfrecord(probe)
            elif fmt == "tar-shard":
                members, complete = tar.list_members(probe)
                found = tar.webdataset_facts(members, complete)
                if found is None:
                    out.file_artifact(probe, Kind.FILE, "tar")  # an ordinary archive
                    return
                facts, fmt = found, "webdataset"
            else:
                facts = arrow.read_arrow(probe, fmt)
        except (FormatError, ValueError, RecursionError) as exc:
            out.unreadable(probe, fmt, str(exc))
            return
        record(out, probe, fmt, facts)


@register
class TextDatasetScanner(Scanner):
    """Delimited text and JSON records: after model and metadata scanners, before the fallback."""

    family = "dataset-text"
    priority = 500

    def identify(self, probe: Probe) -> str | None:
        return tabular.delimited_kind(probe) or tabular.jsonl_kind(probe)

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        try:
            read = tabular.read_delimited if fmt in ("csv", "tsv") else tabular.read_jsonl
            facts = read(probe, fmt)
        except (FormatError, ValueError, RecursionError) as exc:
            out.unreadable(probe, fmt, str(exc)[:200])
            return
        record(out, probe, fmt, facts)


@register
class MediaMemberScanner(Scanner):
    """Images, audio and .txt files: hashed and kept only if their folder turns out to be a dataset."""

    family = "dataset-media"
    priority = 900

    def identify(self, probe: Probe) -> str | None:
        sig = signature(probe.head)
        if sig and sig[0] in MEDIA_FORMATS:
            return sig[0]
        if probe.name.lower().endswith(TEXT_MEMBER_EXTENSIONS) and probe.size and not sig:
            return "text" if looks_like_text(probe.head) else None
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        artifact = out.file_artifact(probe, Kind.FILE, fmt)
        artifact.properties[MEMBER] = fmt


#: Member suffixes that can carry pickles (WebDataset unpickles `.pyd`/`.pickle` samples on load).
PICKLE_CAPABLE = (".pyd", ".pickle", ".pkl", ".pth", ".pt", ".bin", ".ckpt", ".joblib", ".npy", ".npz", ".dill")


@register
class DatasetTarScanner(DatasetFileScanner):
    """WebDataset tar shards. Asked after the torch scanner (legacy torch tars) and before the archive
    scanner; a tar with any member that can hold a pickle is left to the archive scanner, which
    inspects every member for code that runs on load."""

    family = "dataset-tar"
    priority = 85

    def identify(self, probe: Probe) -> str | None:
        if probe.head[257:262] != b"ustar" or not probe.name.lower().endswith(".tar"):
            return None
        try:
            members, _ = tar.list_members(probe)
        except (FormatError, ValueError, ReadError):
            return None
        if any(name.lower().endswith(PICKLE_CAPABLE) for name, _size in members):
            return None
        return "tar-shard"
