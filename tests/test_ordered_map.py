"""The scan's thread-pool map: results in order, a bounded number of calls in flight, errors stop it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest

from aibom.pipeline import ordered_map


def test_results_come_in_order_with_a_bounded_number_submitted() -> None:
    lock = threading.Lock()
    submitted = consumed = 0
    most_ahead = 0

    def work(i: int) -> int:
        time.sleep(0.001 * (i % 3))  # finishing out of order
        return i * i

    def items() -> object:
        nonlocal submitted, most_ahead
        for i in range(500):
            with lock:
                submitted += 1
                most_ahead = max(most_ahead, submitted - consumed)
            yield i

    out = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for result in ordered_map(pool, work, items(), ahead=8):
            consumed += 1
            out.append(result)
    assert out == [i * i for i in range(500)]
    assert most_ahead <= 9  # the window, plus the one handed out as the next is submitted


def test_an_error_propagates_and_the_rest_is_not_run() -> None:
    ran: list[int] = []

    def work(i: int) -> int:
        ran.append(i)
        if i == 3:
            raise ValueError("boom")
        time.sleep(0.02)
        return i

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = ordered_map(pool, work, range(1000), ahead=200)
        with pytest.raises(ValueError, match="boom"):
            list(results)
    assert len(ran) < 30  # the calls already started ran; the other ~200 submitted were cancelled


def test_empty_input() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(ordered_map(pool, str, [], ahead=4)) == []


def test_an_error_in_the_consumer_stops_the_rest_when_closed() -> None:
    """scan_tree closes the map when its loop body fails: the calls not yet started are cancelled."""
    ran: list[int] = []

    def work(i: int) -> int:
        ran.append(i)
        time.sleep(0.02)
        return i

    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        pytest.raises(RuntimeError, match="consumer"),
        closing(ordered_map(pool, work, range(1000), ahead=200)) as results,
    ):
        for result in results:
            if result == 3:
                raise RuntimeError("consumer failed")
    assert len(ran) < 30  # the calls already started ran; the other ~200 submitted were cancelled


def test_a_window_below_one_is_refused() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(ValueError, match="ahead"):
        next(ordered_map(pool, str, [1], ahead=0))
