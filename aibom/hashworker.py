"""Worker processes that hash large files for a scan, so hashing runs beside the scan's Python, not under its GIL.

Run as `python -m aibom.hashworker`: it reads one path per line (the path's bytes in hex) and answers each
with one JSON line, `{"sha256": .., "key": [dev, ino, size, mtime_ns, ctime_ns]}`, `{"changed": true}`
or `{"error": ..}`, until its input closes. Plain pipes rather than `multiprocessing`: a spawned
multiprocessing child re-runs the parent's main script, and a forked one inherits the scan's threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import IO, Any

from .hashcache import Key
from .hashing import FileChanged, sha256_file
from .sniff import ReadError


class WorkerGone(Exception):
    """A worker could not be started, or died before it answered."""


class _Worker:
    def __init__(self) -> None:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aibom.hashworker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C reaches the scan, which stops the workers
            )
        except (OSError, ValueError) as exc:
            raise WorkerGone(str(exc)) from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout

    def ask(self, path: str) -> dict[str, Any]:
        try:
            self.stdin.write(os.fsencode(path).hex().encode() + b"\n")
            self.stdin.flush()
            line = self.stdout.readline()
            answer = json.loads(line) if line else None
        except (OSError, ValueError) as exc:
            raise WorkerGone(str(exc)) from exc
        if not isinstance(answer, dict):
            raise WorkerGone("the hashing process exited")
        return answer

    def stop(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.proc.wait(timeout=None if kill else 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Workers:
    """Up to `count` worker processes, started as large files come; each hashes one file at a time."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._free = threading.Semaphore(count)
        self.stopped = False

    def hash(self, path: str) -> tuple[str, Key]:
        """(sha256, status key before reading) of `path`. Raises ReadError, FileChanged or WorkerGone."""
        with self._free:
            worker = self._take()
            try:
                answer = worker.ask(path)
            except WorkerGone:
                self._drop(worker)
                raise
            self._idle.put(worker)
        if "sha256" in answer:
            return str(answer["sha256"]), tuple(int(v) for v in answer["key"])  # type: ignore[return-value]
        if answer.get("changed"):
            raise FileChanged(path)
        raise ReadError(str(answer.get("error", "unknown error")))

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self.stopped:
                raise WorkerGone("stopped")
            worker = _Worker()
            self._all.append(worker)
            return worker

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=True)

    def stop(self, kill: bool = False) -> None:
        """End every worker: let it finish its file, or `kill` it mid-file."""
        with self._lock:
            self.stopped = True
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop(kill)


def _serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    for line in sys.stdin.buffer:
        answer: dict[str, Any]
        try:
            path = os.fsdecode(bytes.fromhex(line.strip().decode("ascii")))
            digest, st = sha256_file(path)
            answer = {"sha256": digest, "key": [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]}
        except FileChanged:
            answer = {"changed": True}
        except ReadError as exc:
            answer = {"error": str(exc)}
        except Exception as exc:  # an answer for every request: the scan reports it as unreadable
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
