"""Walk a project tree safely: every regular file once, in a stable order, and every skip recorded.

Rules: no symlink is followed out of the root; a directory is entered at most once (no loops);
FIFOs, sockets and devices are never opened; VCS metadata, caches and virtualenvs are not walked
as files. Iterative, so nesting depth is bounded only by the file system.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .inventory import Skip
from .sniff import Key, key_of

if TYPE_CHECKING:
    import pathspec

IGNORE_FILE = ".aibomignore"
MAX_IGNORE_BYTES = 1 << 20
_SURROGATE = re.compile("[\udc80-\udcff]")

#: Directory names that hold tool state, never shipped content.
SKIP_DIRS: dict[str, str] = {
    ".git": "vcs-metadata",
    ".hg": "vcs-metadata",
    ".svn": "vcs-metadata",
    ".bzr": "vcs-metadata",
    "_darcs": "vcs-metadata",
    "__pycache__": "cache",
    ".mypy_cache": "cache",
    ".pytest_cache": "cache",
    ".ruff_cache": "cache",
    ".hypothesis": "cache",
    ".tox": "cache",
    ".nox": "cache",
    ".eggs": "cache",
    ".ipynb_checkpoints": "cache",
    "node_modules": "cache",
}

#: File names that are operating-system litter.
SKIP_FILES: dict[str, str] = {
    ".DS_Store": "os-metadata",
    "Thumbs.db": "os-metadata",
    "desktop.ini": "os-metadata",
}


def display_path(path: str) -> str:
    """A printable POSIX form of a relative path, one-to-one with the raw name.

    Bytes that are not UTF-8 become `\\xNN`; a literal backslash becomes `\\\\`, so no two names
    can end up with the same display form (and the same bom-ref).
    """
    if path.isascii() and "\\" not in path:  # the common case: nothing to escape
        return path.replace(os.sep, "/") if os.sep != "/" else path
    text = os.fsencode(path).decode("utf-8", "surrogateescape").replace("\\", "\\\\")
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return text.replace(os.sep, "/") if os.sep != "/" else text


class FileEntry(NamedTuple):
    """A regular file to read. `path` is what to open (the target for an in-root symlink).
    A named tuple: a walk makes one per file, and tuples are the cheapest records Python builds."""

    relpath: str  # display form, POSIX, root-relative
    path: str
    size: int
    via_symlink: bool = False
    #: (dev, ino, size, mtime_ns, ctime_ns) of `path` when walked: what the scan-result cache is keyed by
    key: Key | None = None


def _file_entry(rel: str, path: str, st: os.stat_result, via_symlink: bool) -> FileEntry:
    """The entry of a regular file at `path` with stat `st`, keyed as the scan cache expects."""
    return FileEntry(display_path(rel), path, st.st_size, via_symlink, key_of(st))


@dataclass
class WalkResult:
    files: list[FileEntry] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)


def _special_kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character-device"
    if stat.S_ISBLK(mode):
        return "block-device"
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def read_ignore_file(root: Path) -> list[str]:
    """The root's `.aibomignore` lines: only a regular file (never through a symlink), at most 1 MiB."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(root / IGNORE_FILE, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{IGNORE_FILE} is a symlink; it is read only as a regular file in the root") from None
        return []  # absent or unreadable: no ignore file
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_IGNORE_BYTES:
            raise ValueError(f"{IGNORE_FILE} must be a regular file of at most {MAX_IGNORE_BYTES} bytes")
        data = os.read(fd, MAX_IGNORE_BYTES + 1)[:MAX_IGNORE_BYTES]
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace").splitlines()


def load_ignore(root: Path, excludes: Iterable[str]) -> pathspec.PathSpec | None:
    """Build one gitignore-style matcher from `--exclude` globs and the root's `.aibomignore`."""
    lines = list(excludes) + read_ignore_file(root)
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return None
    import pathspec  # only when there are patterns to match

    return pathspec.GitIgnoreSpec.from_lines(lines)


class Walker:
    """One walk of one root."""

    def __init__(self, root: Path, ignore: pathspec.PathSpec | None = None) -> None:
        self.root = os.path.realpath(root)
        self.ignore = ignore
        self.result = WalkResult()
        self._seen_dirs: set[tuple[int, int]] = set()

    def _skip(self, rel: str, reason: str, detail: str | None = None) -> None:
        self.result.skipped.append(Skip(display_path(rel), reason, detail))

    def _ignored(self, rel: str, is_dir: bool) -> bool:
        if self.ignore is None:
            return False
        posix = rel.replace(os.sep, "/")
        return self.ignore.match_file(posix + "/" if is_dir else posix)

    def run(self) -> WalkResult:
        try:
            st = os.stat(self.root)
        except OSError as exc:
            raise FileNotFoundError(f"cannot read {self.root}: {exc.strerror}") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(self.root)
        self._seen_dirs.add((st.st_dev, st.st_ino))
        # Depth-first, children in sorted order: files come out in sorted path order.
        stack = self._children(self.root, "")
        files, plain = self.result.files, self.ignore is None
        lstat, is_regular = os.lstat, stat.S_ISREG
        while stack:
            full, name, rel = stack.pop()
            try:
                lst = lstat(full)
            except OSError as exc:
                self._skip(rel, "unreadable", exc.strerror)
                continue
            if plain and is_regular(lst.st_mode) and name not in SKIP_FILES:  # most entries: a file to scan
                files.append(_file_entry(rel, full, lst, False))
                continue
            target = self._visit(full, name, rel, lst)
            if target is not None:
                stack.extend(self._children(target, rel))
        return self.result

    def _children(self, real: str, rel: str) -> list[tuple[str, str, str]]:
        """(full path, name, relative path) of each entry, in reverse sorted order for a stack."""
        try:
            with os.scandir(real) as it:
                names = [(e.name, e.path) for e in it]
        except OSError as exc:
            self._skip(rel or ".", "unreadable-directory", exc.strerror)
            return []
        # One stable, locale-independent order: by the raw bytes of the name (ASCII names: the same order).
        if all(name.isascii() for name, _ in names):
            names.sort(reverse=True)
        else:
            names.sort(key=lambda item: os.fsencode(item[0]), reverse=True)
        return [(full, name, f"{rel}{os.sep}{name}" if rel else name) for name, full in names]

    def _visit(self, full: str, name: str, rel: str, lst: os.stat_result) -> str | None:
        """Handle one directory entry (`lst`: its lstat); return a directory path to descend into, or None."""
        via_symlink = stat.S_ISLNK(lst.st_mode)
        path, st = full, lst
        if via_symlink:
            resolved = self._resolve_link(full, rel)
            if resolved is None:
                return None
            path, st = resolved
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            return self._enter_dir(path, name, rel, st, via_symlink)
        if stat.S_ISREG(mode):
            if name in SKIP_FILES:
                self._skip(rel, SKIP_FILES[name])
            elif self._ignored(rel, False):
                self._skip(rel, "excluded")
            else:
                self.result.files.append(_file_entry(rel, path, st, via_symlink))
            return None
        self._skip(rel, "special-file", _special_kind(mode) or "unknown type")
        return None

    def _resolve_link(self, full: str, rel: str) -> tuple[str, os.stat_result] | None:
        try:
            target = os.path.realpath(full, strict=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._skip(rel, "symlink-loop")
            else:
                self._skip(rel, "broken-symlink", exc.strerror)
            return None
        if not _inside(target, self.root):
            self._skip(rel, "symlink-outside-root", "target is outside the scanned root")
            return None
        try:
            return target, os.stat(target)
        except OSError as exc:
            self._skip(rel, "broken-symlink", exc.strerror)
            return None

    def _enter_dir(self, path: str, name: str, rel: str, st: os.stat_result, via_symlink: bool) -> str | None:
        if name in SKIP_DIRS:
            self._skip(rel, SKIP_DIRS[name])
            return None
        if self._ignored(rel, True):
            self._skip(rel, "excluded")
            return None
        if os.path.isfile(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(os.path.join(path, "conda-meta")):
            self._skip(rel, "virtualenv", "read by dependency scanning, not walked as files")
            self.result.environments.append(display_path(rel))
            return None
        key = (st.st_dev, st.st_ino)
        if key in self._seen_dirs:
            self._skip(rel, "symlink-loop" if via_symlink else "already-walked", "directory already walked")
            return None
        self._seen_dirs.add(key)
        return path


def walk(root: Path, excludes: Iterable[str] = ()) -> WalkResult:
    """Walk `root` once; see the module docstring for the rules."""
    return Walker(root, load_ignore(root, excludes)).run()
