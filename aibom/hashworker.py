"""Large files hashed in worker processes (`python -m aibom.hashworker`; see `workerproc`).

A request is a path's bytes; the answer is JSON: `{"sha256", "key": [dev, ino, size, mtime_ns, ctime_ns]}`
(the file's status before it was read), `{"changed": true}` or `{"error"}`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .hashing import FileChanged, sha256_file
from .sniff import Key, ReadError, key_of
from .workerproc import WorkerGone, Workers, serve

__all__ = ["HashWorkers", "WorkerGone"]


class HashWorkers:
    """Up to `count` hashing processes."""

    def __init__(self, count: int) -> None:
        self.processes = Workers("aibom.hashworker", count)

    def hash(self, path: str) -> tuple[str, Key]:
        """(sha256, status key before reading) of `path`. Raises ReadError, FileChanged or WorkerGone."""
        try:
            answer = json.loads(self.processes.ask(os.fsencode(path)))
        except ValueError as exc:
            raise WorkerGone(f"bad answer: {exc}") from exc
        if "sha256" in answer:
            return str(answer["sha256"]), tuple(int(v) for v in answer["key"])  # type: ignore[return-value]
        if answer.get("changed"):
            raise FileChanged(path)
        raise ReadError(str(answer.get("error", "unknown error")))

    def stop(self, kill: bool = False) -> None:
        self.processes.stop(kill)


def _handle(request: bytes) -> bytes:
    answer: dict[str, Any]
    try:
        digest, st = sha256_file(os.fsdecode(request))
        answer = {"sha256": digest, "key": list(key_of(st))}
    except FileChanged:
        answer = {"changed": True}
    except ReadError as exc:
        answer = {"error": str(exc)}
    except Exception as exc:  # an answer for every request: the scan reports it as unreadable
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    return json.dumps(answer).encode()


if __name__ == "__main__":
    serve(_handle)
