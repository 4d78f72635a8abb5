"""The scanner contract: identify a file by content, then describe it in inventory terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..inventory import Artifact, Category, Evidence, Finding, Kind, LicenseFile, Severity
from ..sniff import Probe


def path_ref(relpath: str) -> str:
    """The stable reference of an artifact made from one file."""
    return f"path:{relpath}"


@dataclass
class ScanOutput:
    """What scanning one file produced."""

    artifacts: list[Artifact] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    license_files: list[LicenseFile] = field(default_factory=list)

    def file_artifact(
        self, probe: Probe, kind: Kind, fmt: str, name: str | None = None, hash_content: bool = True
    ) -> Artifact:
        """Add (and return) an artifact whose content is the probed file."""
        artifact = Artifact(
            kind=kind,
            name=name or probe.name,
            ref=path_ref(probe.relpath),
            format=fmt,
            size=probe.size,
            content_path=probe.path if hash_content else None,
            evidence=[Evidence(probe.relpath)],
        )
        self.artifacts.append(artifact)
        return artifact

    def unreadable(self, probe: Probe, fmt: str, message: str, offset: int | None = None) -> Artifact:
        """Record a file that claims a format but cannot be fully read: an opaque file plus a finding."""
        artifact = self.file_artifact(probe, Kind.FILE, fmt)
        artifact.properties["aibom:unreadable"] = "true"
        self.findings.append(
            Finding(
                rule="unreadable-file",
                category=Category.UNREADABLE,
                severity=Severity.ERROR,
                message=f"{fmt}: {message}",
                location=probe.relpath,
                component=artifact.ref,
                remediation="Replace the file with a valid one, or remove it; it cannot be verified as is.",
                offset=offset,
            )
        )
        return artifact


class Scanner:
    """Base class: subclasses set `family` and `priority` and implement identify/scan.

    `identify` must be cheap (it sees every file): look at `probe.head`, use the name only as a hint.
    `scan` may read more through `probe.read`, always bounded.
    """

    family: ClassVar[str]
    priority: ClassVar[int] = 100

    def identify(self, probe: Probe) -> str | None:
        raise NotImplementedError

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        raise NotImplementedError
