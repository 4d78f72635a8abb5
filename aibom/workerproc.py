"""aibom's own worker processes (each runs an `aibom.<module>` as its main module), spoken to over pipes.

A scan's threads share one GIL; work that is CPU-bound for long (hashing a large file, rendering thousands
of components) runs in these processes instead. Plain pipes rather than `multiprocessing`: a spawned
multiprocessing child re-runs the parent's main script (any script that calls aibom without a
`__main__` guard would run twice), and a forked one inherits the scan's threads and their locks.
A worker reads requests from its stdin and answers each on its stdout until its stdin closes. It ignores
Ctrl-C (the scan stops it) and dies with the scan's process group. It runs with the scan's interpreter
flags, `-P`, and aibom's parent folder as its working folder, so an `aibom` folder in the scan's working
folder (say, the tree being scanned) is never imported in its place, not even through a relative
PYTHONPATH entry.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO

_LENGTH = struct.Struct(">Q")
MAX_FRAME = 1 << 30  # a longer frame means the stream is out of step: the worker is treated as gone
_PACKAGE = os.path.dirname(os.path.abspath(__file__))  # this aibom, which a worker must run too


class WorkerGone(Exception):
    """A worker could not be started, or died before it answered."""


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes")
    body = stream.read(length)
    return body if len(body) == length else None


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


#: A worker's first lines: run `module` (the last argument) of the aibom in the folder given before it. Its
#: parent folder goes first on the import path only when the path would find another aibom or none (a
#: source checkout run from inside it): put first for good, an installed aibom's site-packages could shadow
#: standard modules that are not imported yet.
_BOOT = """\
import importlib.util, os, runpy, sys
module = sys.argv.pop()
spec = importlib.util.find_spec("aibom")
if spec is None or spec.origin is None or os.path.dirname(spec.origin) != sys.argv[1]:
    sys.path.insert(0, os.path.dirname(sys.argv[1]))
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


class Worker:
    """One worker process running `module` (`aibom.<name>`) of this aibom."""

    def __init__(self, module: str) -> None:
        # -P and a working folder of aibom's own: nothing of the scan's working folder (it may be the
        # scanned tree) is on the worker's import path. The worker checks that it imported this very aibom,
        # and exits if not: the work is then done here.
        flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]  # as multiprocessing does
        command = [sys.executable, *flags, "-P", "-c", _BOOT, _PACKAGE, module]
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=os.path.dirname(_PACKAGE),
            )
        except (OSError, ValueError) as exc:
            raise WorkerGone(str(exc)) from exc
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout

    def ask(self, request: bytes) -> bytes:
        try:
            _write_frame(self.stdin, request)
            answer = _read_frame(self.stdout)
        except (OSError, ValueError) as exc:
            raise WorkerGone(str(exc)) from exc
        if answer is None:
            raise WorkerGone("the worker process exited")
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
    """Up to `count` processes of one module, started as work comes; each answers one request at a time."""

    def __init__(self, module: str, count: int) -> None:
        self.module = module
        self._idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self._free = threading.BoundedSemaphore(max(1, count))
        self._stopped = False

    def ask(self, request: bytes) -> bytes:
        """A worker's answer to `request`. Raises WorkerGone if no worker could answer it."""
        with self._free:
            worker = self._take()
            try:
                answer = worker.ask(request)
            except WorkerGone:
                self._drop(worker)
                raise
            self._idle.put(worker)
            return answer

    @property
    def started(self) -> list[Worker]:
        with self._lock:
            return list(self._all)

    def _take(self) -> Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._stopped:
                raise WorkerGone("stopped")
            worker = Worker(self.module)
            self._all.append(worker)
            return worker

    def _drop(self, worker: Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=True)

    def stop(self, kill: bool = False) -> None:
        """End every worker: after its current request, or at once if `kill`."""
        with self._lock:
            self._stopped = True
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop(kill)


def serve(handle: Callable[[bytes], bytes]) -> None:
    """The worker side: answer each request with `handle(request)` until stdin closes."""
    if sys.argv[1:] != [_PACKAGE]:  # _BOOT leaves [the module's path, the package folder it was asked for]
        sys.exit(3)  # another aibom than the scan's: the scan does the work itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(1), "wb")  # the answers' own channel: anything printed goes to stderr instead
    os.dup2(2, 1)
    while (request := _read_frame(stdin)) is not None:
        _write_frame(stdout, handle(request))
