"""The `aibom` command's entry point: tunes the garbage collector for one short run, then runs the CLI.

A scan builds hundreds of thousands of small, acyclic objects (walk entries, cached records, BOM
fragments) that reference counting frees. With the default thresholds the cyclic collector runs every
700 allocations and re-traverses the young objects still alive, which cost about a fifth of a warm
rescan. Collecting every 20,000 allocations, with the imported modules frozen out of the traversal,
keeps the collector for the rare cycle without paying for it on every file; the one place that makes
cycles in bulk (rendering components through cyclonedx-python-lib) collects after each batch. The
middle generation is collected every 100 young collections instead of 10: each of its collections
re-traversed every record a warm rescan had decoded (three of them, 0.13 s, on 72,000 files).
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.set_threshold(20_000, 100, 10)
    from .cli import run  # imported after the tuning: importing allocates too

    gc.freeze()  # modules and their constants live for the whole run: never traverse them
    run()
