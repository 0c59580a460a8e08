"""Where a hello request's time goes: CPU per request, by thread.

    python bench/cost.py [--seconds 5] [--loop asyncio] [--path /hello.py]
                         [--baseline DIR] [--rounds 1]

Starts the bare tremolo route, the same with one executor hop (--hop), and
httpout (with its default pool of 16 script threads, the same with
--metrics-path, and with one thread) on /hello.py (or --path: any page of
bench/docroot/ that tremolo_app.py also answers, e.g. /static64k.txt),
drives each with the same wrk load as bench/run.py, and reads from /proc how much CPU each server's worker
process spent per answered request: user and system time, split between the
event loop's thread and every other thread (for httpout, the script
threads). It prints a Markdown table. Throughput on this CPU-bound page is
1 / (CPU per request) as long as the worker holds one core, so this table
says which part of a request costs what, measured rather than inferred.

wrk runs on the same machine, so the figures are for a loaded 2-core box;
compare rows of one run, not runs of different machines. With
`--baseline DIR` it also measures httpout from another checkout, and with
`--rounds N` it measures every row N times, interleaved, so that a change
can be read against the commit before it in one run.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Tuple

import run as bench  # bench/run.py: servers, wrk, fixtures

__all__ = ('main',)


@dataclass
class ThreadCpu:
    user: float = 0.0    # seconds
    system: float = 0.0

    def __sub__(self, other: 'ThreadCpu') -> 'ThreadCpu':
        return ThreadCpu(self.user - other.user, self.system - other.system)


def worker_threads(pids: List[int]) -> Tuple[int, Dict[int, ThreadCpu]]:
    """The server's worker (the process of the group with the most threads)
    and the CPU time of each of its threads, by thread id."""
    worker = max(pids, key=lambda pid: len(os.listdir('/proc/%d/task' % pid)))
    threads = {}

    for tid in os.listdir('/proc/%d/task' % worker):
        try:
            with open('/proc/%d/task/%s/stat' % (worker, tid), 'rb') as f:
                stat = f.read()
        except OSError:  # the thread has just ended
            continue

        fields = stat[stat.rfind(b')') + 2:].split()
        threads[int(tid)] = ThreadCpu(int(fields[11]) / bench.HZ,
                                      int(fields[12]) / bench.HZ)

    return worker, threads


def measure(server: bench.Server, path: str, seconds: float) -> Dict[str, float]:
    """CPU per answered request, in microseconds, under wrk -c32."""
    bench.run_wrk(server.port, path, 1)  # warm-up, not counted
    bench.wait_for_servers_idle()
    worker, before = worker_threads(server.pids())
    load = bench.run_wrk(server.port, path, seconds)
    _, after = worker_threads(server.pids())

    if load.error or not load.requests:
        raise SystemExit('%s: %s' % (server.label, load.error or 'no requests'))

    loop = after[worker] - before[worker]  # the main thread runs the event loop
    others = ThreadCpu()

    for tid, cpu in after.items():
        if tid != worker:
            spent = cpu - before.get(tid, ThreadCpu())
            others = ThreadCpu(others.user + spent.user, others.system + spent.system)

    per = 1e6 / load.requests
    return {'req/s': load.rps,
            'loop user': loop.user * per, 'loop sys': loop.system * per,
            'threads user': others.user * per, 'threads sys': others.system * per}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=5.0)
    parser.add_argument('--loop', default='asyncio', choices=('asyncio', 'uvloop'))
    parser.add_argument('--path', default='/hello.py')
    parser.add_argument('--baseline', default='', metavar='DIR',
                        help='also measure httpout from this other checkout '
                             '(e.g. a git worktree of the commit before a change)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='measure the rows this many times, interleaved')
    args = parser.parse_args(argv)
    bench.make_fixtures()
    contenders = [
        ('tremolo route (reference)', bench.tremolo_cmd, 0),
        ('bare route + one executor hop', bench.tremolo_hop_cmd, 0),
        ('httpout, 16 script threads', bench.httpout_cmd, 16),
        ('httpout --metrics-path, 16 script threads', bench.HTTPOUT_METRICS.build, 16),
        ('httpout, 1 script thread', bench.httpout_cmd, 1),
    ]

    if args.baseline:
        bench.BASELINE_DIR[:] = [os.path.abspath(args.baseline)]
        contenders.append(('httpout (baseline checkout), 16 script threads',
                           bench.baseline_cmd, 16))
    print('CPU per request of %s, wrk -t2 -c32 for %g s, loop %s, 1 worker; '
          'µs per answered request' % (args.path, args.seconds, args.loop))
    print()
    print('| server | req/s | loop thread user | loop thread sys '
          '| other threads user | other threads sys | total |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')

    try:
        for label, command, threads in contenders * args.rounds:
            port = bench.free_port()
            argv_, env = command(port, args.loop, 1, threads)
            server = bench.Server(label, argv_, env, port, 'cost-%s' % label)
            try:
                server.start(ready_path=args.path)
                m = measure(server, args.path, args.seconds)
            finally:
                server.stop()
            total = m['loop user'] + m['loop sys'] + m['threads user'] + m['threads sys']
            print('| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f |' % (
                label, bench.fmt_num(m['req/s']), m['loop user'], m['loop sys'],
                m['threads user'], m['threads sys'], total))
    finally:
        bench.stop_all()

    return 0


if __name__ == '__main__':
    sys.exit(main())
