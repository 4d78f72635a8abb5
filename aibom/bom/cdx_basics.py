"""CycloneDX facts aibom needs without importing cyclonedx-python-lib: spec versions and formats, the
root's bom-ref, the document's head keys, component types, the timestamp and the serial number.

A warm rescan assembles its BOM from cached fragments and never renders through the library, so the
CLI and the assembler import only this module; `aibom.bom.cyclonedx` (the library) loads on first render.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime

from ..inventory import Kind

SPEC_VERSION_NAMES = ("1.6", "1.7")
FORMATS = ("cyclonedx-json", "cyclonedx-xml")
ROOT_REF = "aibom:root"
#: The top-level keys of a CycloneDX JSON document before `components`, in the library's order.
JSON_HEAD = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata")
ZERO_SERIAL = uuid.UUID(int=0)
#: The metadata properties that count the files scanned and their bytes.
STAT_FILES, STAT_BYTES = "aibom:files", "aibom:bytes"
#: The CycloneDX component type of each kind of artifact (the library's ComponentType values).
COMPONENT_TYPES = {
    Kind.MODEL: "machine-learning-model",
    Kind.DATASET: "data",
    Kind.LIBRARY: "library",
    Kind.FILE: "file",
}


class InvalidBom(RuntimeError):
    """aibom produced a BOM its own schema check rejects: a bug, reported loudly."""


def epoch_timestamp(epoch: str | None) -> datetime:
    """The time a SOURCE_DATE_EPOCH value names, or now when there is none; whole seconds, UTC."""
    if epoch:
        try:
            if not epoch.isdigit():  # the reproducible-builds spec: a non-negative integer
                raise ValueError
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise ValueError(f"SOURCE_DATE_EPOCH must be a Unix timestamp, got {epoch!r}") from None
    return datetime.now(tz=UTC).replace(microsecond=0)


def build_timestamp() -> datetime:
    """SOURCE_DATE_EPOCH when set (reproducible builds), otherwise now. Writers take an explicit timestamp
    (this is their default), so a caller with another epoch never has to change the process environment."""
    return epoch_timestamp(os.environ.get("SOURCE_DATE_EPOCH"))


def serial_of(content: str | list[str]) -> str:
    """A serial number derived from the document (or its pieces, in order) with the placeholder serial in it."""
    digest = hashlib.sha256()
    for piece in [content] if isinstance(content, str) else content:
        digest.update(piece.encode())
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'aibom:' + digest.hexdigest())}"
