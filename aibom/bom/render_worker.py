"""Rendering batches of components in worker processes (`python -m aibom.bom.render_worker`).

A cold scan of a large tree renders tens of thousands of components through cyclonedx-python-lib and
checks them against the schema: pure Python, so under one GIL it used one core. `render_batches` hands
the batches to up to `processes` worker processes. A request is a pickle of aibom's own objects made by
the parent process for its child over a private pipe (nothing read from a scanned file is unpickled); an
answer is JSON: the fragments' text, or why the batch failed. Once a worker is gone (it could not start,
or died), the remaining batches are rendered in this process, one at a time, so the output never
depends on whether workers could run.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..workerproc import WorkerGone, Workers, serve
from .cdx_basics import InvalidBom

if TYPE_CHECKING:
    from .assemble import Batch


def render_batches(batches: list[Batch], render: Callable[..., dict[str, str]], processes: int) -> dict[str, str]:
    """bom-ref -> fragment text of every batch, rendered by up to `processes` workers at once."""
    workers = Workers("aibom.bom.render_worker", processes)
    gone = threading.Event()
    here = threading.Lock()  # batches rendered in this process go one at a time (the library is not threadsafe)

    def locally(batch: Batch) -> dict[str, str]:
        with here:
            return render(*batch)

    def one(batch: Batch) -> dict[str, str]:
        if gone.is_set():
            return locally(batch)
        try:
            answer = json.loads(workers.ask(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
        except (WorkerGone, ValueError):
            gone.set()  # no more workers started: the rest here, with the same code
            return locally(batch)
        if "invalid" in answer:
            raise InvalidBom(str(answer["invalid"]))
        if "fragments" not in answer:
            return locally(batch)  # the worker failed unexpectedly: this process says why, if it fails too
        return dict(answer["fragments"])

    out: dict[str, str] = {}
    try:
        with ThreadPoolExecutor(processes, thread_name_prefix="aibom-render") as pool:
            for fragments in pool.map(one, batches):
                out.update(fragments)
    except BaseException:
        workers.stop(kill=True)
        raise
    workers.stop()
    return out


def _handle(request: bytes) -> bytes:
    import gc

    from .assemble import render_fragments

    answer: dict[str, Any]
    try:
        answer = {"fragments": render_fragments(*pickle.loads(request))}
        gc.collect()  # the library's objects hold cycles: free each batch's before the next
    except InvalidBom as exc:
        answer = {"invalid": str(exc)}
    except Exception as exc:  # reported by rendering the batch again in the scan's own process
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    return json.dumps(answer).encode()


if __name__ == "__main__":
    serve(_handle)
