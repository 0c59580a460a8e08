"""The script thread pool (httpout/threads.py) on a real event loop: jobs
run in parallel when they block, short jobs do not wake every thread, and a
replaced thread gives its place back."""
from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import List

from httpout.threads import ScriptThreads


def _run(main):
    return asyncio.run(main())


def test_blocking_jobs_run_side_by_side():
    pool = ScriptThreads(8)

    async def main():
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        futures = [pool.submit(loop, time.sleep, 0.5) for _ in range(8)]
        await asyncio.gather(*futures)
        return time.monotonic() - start

    try:
        took = _run(main)
    finally:
        pool.shutdown()

    # one after another would be 4 s; the wake-up chain adds ~1 ms a thread
    assert took < 0.8, took


def test_short_jobs_do_not_wake_every_thread():
    pool = ScriptThreads(16)
    threads_per_burst: List[int] = []

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(50):  # bursts of 32 jobs, as from 32 connections
            ran_on: List[int] = []
            await asyncio.gather(*(pool.submit(loop, lambda _: ran_on.append(
                threading.get_ident()), None) for _ in range(32)))
            threads_per_burst.append(len(set(ran_on)))

    try:
        _run(main)
    finally:
        pool.shutdown()

    # a thread woken per job would spread a burst over all 16 threads; the
    # active thread takes job after job (a helper is woken only after 1 ms)
    assert statistics.median(threads_per_burst) <= 2, threads_per_burst


def test_more_jobs_than_threads_wait_their_turn():
    pool = ScriptThreads(2)

    async def main():
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        await asyncio.gather(*(pool.submit(loop, time.sleep, 0.2) for _ in range(4)))
        return time.monotonic() - start

    try:
        took = _run(main)
    finally:
        pool.shutdown()

    assert 0.4 <= took < 0.7, took  # two rounds of two


def test_a_replaced_thread_gives_its_place_back():
    pool = ScriptThreads(2)
    release = threading.Event()
    stuck_on: List[int] = []

    def stuck(_):
        stuck_on.append(threading.get_ident())
        release.wait(5)

    async def main():
        loop = asyncio.get_running_loop()
        stuck_job = pool.submit(loop, stuck, None)

        while not stuck_on:
            await asyncio.sleep(0.01)

        pool.replace(stuck_on[0])  # as --max-execution-time does
        start = time.monotonic()
        # two threads besides the stuck one: two blocking jobs side by side
        await asyncio.gather(*(pool.submit(loop, time.sleep, 0.3) for _ in range(2)))
        took = time.monotonic() - start
        release.set()
        await stuck_job
        # the stuck thread has ended; the pool still runs two at once
        start = time.monotonic()
        await asyncio.gather(*(pool.submit(loop, time.sleep, 0.3) for _ in range(2)))
        return took, time.monotonic() - start

    try:
        first, second = _run(main)
    finally:
        pool.shutdown()

    assert first < 0.5, first
    assert second < 0.5, second
