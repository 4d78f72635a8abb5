"""What a dataset reader found in one file, independent of the format."""

from __future__ import annotations

from dataclasses import dataclass, field

MEMBER = "aibom:dataset:member"  # the property holding the media type of a file that belongs to a folder dataset


class FormatError(ValueError):
    """The file claims a dataset format but its structure is broken."""


@dataclass
class DatasetFacts:
    rows: int | None = None
    rows_exact: bool = True  # False when counting stopped at a bound
    columns: list[str] = field(default_factory=list)
    column_count: int | None = None
    properties: dict[str, str] = field(default_factory=dict)

    def add_columns(self, names: list[str], limit: int = 64) -> None:
        self.column_count = len(names)
        self.columns = [n[:200] for n in names[:limit]]
