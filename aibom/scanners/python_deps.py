"""Python requirement files (pip's format): declared libraries as `pkg:pypi` components.

Handles continuation lines, comments, `-r` includes (inside the root, cycle-safe), `--hash` pins,
environment markers, `name @ URL` and `-e VCS#egg=name` lines, and bare wheel file names or URLs.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packageurl import PackageURL
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .. import readdeps
from ..deps.model import DEV_GROUP_NAMES, DIRECT, SCOPE, SOURCE
from ..inventory import Artifact, Category, Evidence, Finding, Kind, Provenance, Severity
from ..sniff import Probe, ReadError, looks_like_text
from . import register
from .base import Scanner, ScanOutput

MAX_REQUIREMENTS_BYTES = 4 << 20
MAX_INCLUDE_DEPTH = 10
_NAME = re.compile(r"^(.*requirements.*|constraints.*)\.(txt|in|pip)$", re.IGNORECASE)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")

if TYPE_CHECKING:
    from packaging.requirements import Requirement


def is_requirements_name(relpath: str) -> bool:
    name = relpath.rsplit("/", 1)[-1]
    if _NAME.match(name):
        return True
    parts = relpath.split("/")
    return len(parts) > 1 and parts[-2].lower() == "requirements" and name.lower().endswith((".txt", ".in"))


def requirements_scope(relpath: str) -> str:
    """`dev` for requirements-dev.txt, requirements/test.txt and the like; `runtime` otherwise."""
    words = set(re.split(r"[^a-z]+", relpath.lower().rsplit("/", 1)[-1]))
    return "dev" if words & DEV_GROUP_NAMES else "runtime"


@dataclass
class Line:
    number: int
    text: str


def read_requirements_text(probe: Probe) -> str | None:
    """The file's text as pip reads it: a UTF-8 or UTF-16 byte-order mark is honoured and dropped."""
    if probe.size > MAX_REQUIREMENTS_BYTES:
        return None
    head = probe.head[:2]
    if head in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return probe.read(0, probe.size).decode("utf-16")
        except UnicodeDecodeError:
            return None
    text = probe.read_text(MAX_REQUIREMENTS_BYTES)
    return text.removeprefix("\ufeff") if text is not None else None


def logical_lines(text: str) -> list[Line]:
    """Join backslash continuations and drop comments, keeping each line's first physical number."""
    out: list[Line] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = number
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        line = _COMMENT.sub("", buf + raw).strip()
        buf = ""
        if line:
            out.append(Line(start, line))
    if buf.strip():
        out.append(Line(start, _COMMENT.sub("", buf).strip()))
    return out


def option_value(tokens: list[str], short: str, long: str) -> str | None:
    """The value of option `short`/`long` if the line starts with it (`-r x`, `-rx`, `--requirement=x`)."""
    head = tokens[0]
    if head in (short, long):
        return tokens[1] if len(tokens) > 1 else ""
    if head.startswith(long + "="):
        return head[len(long) + 1 :]
    if head.startswith(short) and not head.startswith("--") and len(head) > len(short):
        return head[len(short) :]
    return None


def version_of(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def library(name: str, version: str | None, qualifiers: dict[str, str] | None = None) -> Artifact:
    purl = PackageURL(type="pypi", name=canonicalize_name(name), version=version, qualifiers=qualifiers or None)
    ref = purl.to_string()
    return Artifact(kind=Kind.LIBRARY, name=canonicalize_name(name), ref=ref, version=version, purl=ref)


class RequirementsParser:
    """Parse one requirements file and the files it includes."""

    def __init__(self, probe: Probe, root_real: str, out: ScanOutput) -> None:
        self.probe = probe
        self.root_real = root_real
        self.out = out
        self.seen: set[str] = set()

    def problem(self, relpath: str, line: int, message: str) -> None:
        self.out.findings.append(
            Finding(
                rule="requirements-line-unreadable",
                category=Category.UNREADABLE,
                severity=Severity.WARNING,
                message=f"line {line}: {message}",
                location=relpath,
                remediation="Fix the line so pip can read it; aibom cannot tell which package it means.",
            )
        )

    def parse(self, relpath: str, path: str, text: str, depth: int = 0) -> None:
        real = os.path.realpath(path)
        if real in self.seen:
            return
        self.seen.add(real)
        for line in logical_lines(text):
            try:
                tokens = shlex.split(line.text, posix=True)
            except ValueError:
                tokens = line.text.split()
            if not tokens:
                continue
            self.parse_line(relpath, path, line, tokens, depth)

    def parse_line(self, relpath: str, path: str, line: Line, tokens: list[str], depth: int) -> None:
        if (target := option_value(tokens, "-r", "--requirement")) is not None:
            self.include(relpath, path, line, target, depth)
            return
        if (target := option_value(tokens, "-e", "--editable")) is not None:
            self.editable(relpath, line, target)
            return
        if tokens[0].startswith("-"):
            return  # an index, find-links or install option: adds no package
        text = line.text.split(" --", 1)[0].strip()
        hashes = sorted({t.split("=", 1)[1] for t in tokens if t.startswith("--hash=")})
        from packaging.requirements import InvalidRequirement, Requirement  # ~10 ms: only when one is read

        try:
            req = Requirement(text)
        except InvalidRequirement:
            self.bare_file(relpath, line, tokens[0], hashes)
            return
        qualifiers = {"download_url": req.url} if req.url else None
        artifact = library(req.name, version_of(req), qualifiers)
        self.add(artifact, relpath, line, str(req), hashes, str(req.marker) if req.marker else None)

    def add(
        self, artifact: Artifact, relpath: str, line: Line, spec: str, hashes: list[str], marker: str | None
    ) -> None:
        artifact.evidence.append(Evidence(relpath, line=line.number))
        artifact.properties["aibom:requirement"] = spec
        artifact.properties[SOURCE] = relpath
        artifact.properties[DIRECT] = "true"
        artifact.properties[SCOPE] = requirements_scope(relpath)
        if hashes:
            artifact.properties["aibom:requirement:hashes"] = ",".join(hashes)
        if marker:
            artifact.properties["aibom:requirement:marker"] = marker
        self.out.artifacts.append(artifact)

    def bare_file(self, relpath: str, line: Line, token: str, hashes: list[str]) -> None:
        filename = token.rsplit("/", 1)[-1].split("#", 1)[0]
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            self.problem(relpath, line.number, f"not a requirement pip understands: {line.text[:120]!r}")
            return
        qualifiers = {"download_url": token} if "://" in token else None
        self.add(library(str(name), str(version), qualifiers), relpath, line, token, hashes, None)

    def editable(self, relpath: str, line: Line, target: str) -> None:
        egg = _EGG.search(target)
        if "://" not in target and "+" not in target.split("/", 1)[0]:
            return  # a local path: the project itself or a sibling, not a third-party package
        if not egg:
            self.problem(relpath, line.number, f"editable VCS requirement without #egg= name: {target[:120]!r}")
            return
        artifact = library(egg.group(1), None, {"vcs_url": target.split("#", 1)[0]})
        artifact.provenance.append(Provenance("vcs", target.split("#", 1)[0]))
        self.add(artifact, relpath, line, f"-e {target}", [], None)

    def include(self, relpath: str, path: str, line: Line, target: str, depth: int) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            self.problem(relpath, line.number, f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
            return
        if "://" in target:
            self.problem(relpath, line.number, f"remote include {target!r} not fetched (offline)")
            return
        readdeps.note(os.path.join(os.path.dirname(path), target))
        inc_path = os.path.realpath(os.path.join(os.path.dirname(path), target))
        if not (inc_path + os.sep).startswith(self.root_real + os.sep):
            self.problem(relpath, line.number, f"include {target!r} points outside the scanned root")
            return
        inc_rel = os.path.relpath(inc_path, self.root_real).replace(os.sep, "/")
        try:
            inc_probe, _ = Probe.from_file(inc_rel, inc_path, self.root_real)
            text = inc_probe.read_text(MAX_REQUIREMENTS_BYTES)
        except ReadError as exc:
            self.problem(relpath, line.number, f"include {target!r} cannot be read: {exc}")
            return
        if text is None:
            self.problem(relpath, line.number, f"include {target!r} is not a text file of reasonable size")
            return
        self.parse(inc_rel, inc_path, text, depth + 1)


@register
class RequirementsScanner(Scanner):
    family = "python-requirements"
    priority = 40

    def identify(self, probe: Probe) -> str | None:
        utf16 = probe.head[:2] in (b"\xff\xfe", b"\xfe\xff")
        if is_requirements_name(probe.relpath) and (utf16 or looks_like_text(probe.head)):
            return "pip-constraints" if probe.name.lower().startswith("constraints") else "pip-requirements"
        return None

    def scan(self, probe: Probe, fmt: str, out: ScanOutput) -> None:
        if fmt == "pip-constraints":
            return  # constraints only limit versions of what something else installs: no components
        text = read_requirements_text(probe)
        if text is None:
            out.findings.append(
                Finding(
                    rule="unreadable-file",
                    category=Category.UNREADABLE,
                    severity=Severity.WARNING,
                    message=f"{fmt}: larger than {MAX_REQUIREMENTS_BYTES} bytes or not text",
                    location=probe.relpath,
                )
            )
            return
        RequirementsParser(probe, probe.root, out).parse(probe.relpath, probe.path, text)
