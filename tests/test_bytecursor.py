"""The header cursor: takes, skips and zero-copy peeks agree with the file's bytes wherever the buffer is."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from aibom.bytecursor import CHUNK, Cursor, Truncated
from aibom.sniff import HEAD_BYTES, Probe, ReadError


def _probe(path: Path) -> Probe:
    probe, _ = Probe.from_file(path.name, str(path), str(path.parent))
    return probe


def test_random_walk_of_takes_skips_and_peeks_matches_the_file(tmp_path: Path) -> None:
    data = os.urandom(3 * CHUNK + 12345)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    rng = random.Random(3)
    for _ in range(20):
        cur = Cursor(_probe(path), rng.randrange(0, HEAD_BYTES * 2))
        while cur.remaining:
            pos, op, n = cur.pos, rng.choice(("take", "skip", "peek")), rng.choice((1, 7, 4096, CHUNK, 2 * CHUNK))
            if op == "peek":
                view = cur.peek(n)
                assert bytes(view) == data[pos : pos + n] and cur.pos == pos
            elif op == "take":
                if n > cur.remaining:
                    with pytest.raises(Truncated):
                        cur.take(n)
                    continue
                assert cur.take(n) == data[pos : pos + n] and cur.pos == pos + n
            else:
                cur.skip(min(n, cur.remaining))
        assert len(cur.peek(CHUNK)) == 0


def test_peek_of_a_file_that_shrank_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(2 * CHUNK))
    cur = Cursor(_probe(path), HEAD_BYTES)
    os.truncate(path, CHUNK)
    with pytest.raises(ReadError, match="shrank"):
        cur.peek(CHUNK)
