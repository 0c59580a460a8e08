"""--metrics-path against real servers: the Prometheus text format, figures
that cover every worker, the gauges of the script threads, who may read
them, and what a dead worker leaves behind.
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Tuple

import httpx
from prometheus_client.parser import text_string_to_metric_families

from e2e_util import children, rss_kib, wait_for

FILES = {
    'ok.py': "print('fine')\n",
    'boom.py': "raise ValueError('boom')\n",
    'pid.py': "import os\nprint(os.getpid())\n",
    'sleep.py': '''
        import time
        from httpout import request
        time.sleep(float(request.query['s'][0]))
        print('slept')
    ''',
    'static/a.txt': 'static text\n',
    'folder/index.html': '<p>index</p>\n',
}
# the address of this machine's own network interface: a peer that is not
# loopback, for the refusals
OUTSIDE = '192.0.2.2'
OPERATIONS = Path(__file__).resolve().parent.parent / 'docs' / 'operations.md'

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def scrape(url: str, **kwargs) -> Tuple[httpx.Response, Samples]:
    response = httpx.get(url + '/metrics', timeout=10, **kwargs)
    samples: Samples = {}
    if response.status_code == 200:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return response, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def get(server, path: str) -> httpx.Response:
    # a new connection each time, so that every worker gets some
    return httpx.get(server.url + path, headers={'Connection': 'close'}, timeout=10)


def test_metrics_are_off_by_default(serve):
    server = serve(FILES)
    assert server.get('/metrics').status_code == 404


def test_metrics_cover_every_worker(serve):
    server = serve(FILES, '--worker-num', '2', '--thread-pool-size', '3',
                   '--metrics-path', '/metrics', '--health-path', '/healthz')
    workers = set(children(server.proc.pid))
    assert len(workers) == 2
    seen = set()
    scripts = 0

    while seen != workers:  # until both have served some
        seen.add(int(get(server, '/pid.py').text))
        scripts += 1
        assert scripts < 200

    for _ in range(5):
        assert get(server, '/ok.py').status_code == 200
    assert get(server, '/boom.py').status_code == 500
    assert get(server, '/static/a.txt').status_code == 200
    assert get(server, '/missing.py').status_code == 404
    assert get(server, '/.env').status_code == 403
    assert get(server, '/folder').status_code == 301
    assert get(server, '/healthz').status_code == 200  # not counted

    time.sleep(1.3)  # each worker hands its figures on every second
    response, samples = scrape(server.url)
    assert response.status_code == 200
    assert response.headers['content-type'] == 'text/plain; version=0.0.4; charset=utf-8'

    requests = {labels: v for (name, labels), v in samples.items()
                if name == 'httpout_requests_total'}
    assert requests == {
        (('kind', 'script'), ('status', '2xx')): scripts + 5,
        (('kind', 'script'), ('status', '5xx')): 1,
        (('kind', 'static'), ('status', '2xx')): 1,
        (('kind', 'refused'), ('status', '4xx')): 2,
        (('kind', 'redirect'), ('status', '3xx')): 1,
    }, requests
    total = scripts + 10
    assert value(samples, 'httpout_request_duration_seconds_count') == total
    assert value(samples, 'httpout_request_duration_seconds_bucket', le='+Inf') == total
    assert 0 < value(samples, 'httpout_request_duration_seconds_sum') < total
    assert value(samples, 'httpout_request_duration_seconds_bucket', le='0.005') <= total
    assert value(samples, 'httpout_script_errors_total') == 1
    assert value(samples, 'httpout_execution_time_exceeded_total') == 0
    assert value(samples, 'httpout_script_threads') == 2 * 3
    assert value(samples, 'httpout_scripts_running') == 0
    assert value(samples, 'httpout_script_queue') == 0

    # process_* add up the workers
    rss = sum(rss_kib(pid) for pid in workers) * 1024
    assert 0.8 * rss < value(samples, 'process_resident_memory_bytes') < 1.2 * rss
    assert value(samples, 'process_open_fds') > 2 * 5
    assert value(samples, 'process_cpu_seconds_total') > 0
    assert abs(value(samples, 'process_start_time_seconds') - time.time()) < 120

    # every metric the documentation names (its table, alert rules) exists
    documented = set(re.findall(r'\bhttpout_[a-z_]+[a-z]', OPERATIONS.read_text()))
    assert len(documented) >= 7
    assert {name for name in documented if name not in response.text} == set()


def test_thread_gauges_and_time_limit_count(serve):
    server = serve(FILES, '--thread-pool-size', '1', '--metrics-path', '/metrics',
                   '--max-execution-time', '0.5')
    with ThreadPoolExecutor(3) as pool:
        slow = [pool.submit(get, server, '/sleep.py?s=0.4') for _ in range(3)]

        def busy() -> Tuple[float, float, float]:
            # a scrape hands over its own worker's figures first: up to date
            _, samples = scrape(server.url)
            return tuple(value(samples, name) for name in (
                'httpout_scripts_running', 'httpout_script_queue', 'httpout_script_threads'))

        # one running, two waiting for the one thread
        assert wait_for(lambda: busy() == (1, 2, 1), 2, interval=0.01), busy()
        assert [f.result().status_code for f in slow] == [200] * 3

    assert get(server, '/sleep.py?s=3').status_code == 500
    _, samples = scrape(server.url)
    assert value(samples, 'httpout_execution_time_exceeded_total') == 1
    assert value(samples, 'httpout_scripts_running') == 0
    assert value(samples, 'httpout_script_queue') == 0


def test_metrics_only_for_loopback_and_trusted_proxies(serve):
    closed = serve(FILES, '--host', '0.0.0.0', '--metrics-path', '/metrics')
    outside = 'http://%s:%d' % (OUTSIDE, closed.port)

    response, _ = scrape(outside)
    assert response.status_code == 403
    assert 'httpout_' not in response.text and 'process_' not in response.text
    assert scrape(closed.url)[0].status_code == 200
    # a loopback peer that forwards for someone (nginx on the same host)
    forwarded = scrape(closed.url, headers={'X-Forwarded-For': '203.0.113.7'})[0]
    assert forwarded.status_code == 403
    assert 'GET /metrics: refused by rule metrics-peer' in closed.log()

    trusting = serve(FILES, '--host', '0.0.0.0', '--metrics-path', '/metrics',
                     '--trusted-proxy', '%s,127.0.0.1' % OUTSIDE)
    assert scrape('http://%s:%d' % (OUTSIDE, trusting.port))[0].status_code == 200
    # a trusted proxy, for a client that is neither loopback nor trusted
    for_client = scrape(trusting.url, headers={'X-Forwarded-For': '203.0.113.7'})[0]
    assert for_client.status_code == 403
    for_local = scrape(trusting.url, headers={'X-Forwarded-For': '127.0.0.1'})[0]
    assert for_local.status_code == 200


def test_a_dead_workers_counts_stay_and_its_gauges_go(serve):
    server = serve(FILES, '--worker-num', '2', '--thread-pool-size', '4',
                   '--metrics-path', '/metrics')
    victim = int(get(server, '/pid.py').text)
    served = 1
    while int(get(server, '/pid.py').text) == victim:
        served += 1
    served += 1
    time.sleep(1.3)
    assert value(scrape(server.url)[1], 'httpout_requests_total',
                 kind='script', status='2xx') == served

    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(set(children(server.proc.pid)) - {victim}) == 2, 10)
    assert wait_for(lambda: get(server, '/ok.py').status_code == 200, 10)
    time.sleep(1.3)
    _, samples = scrape(server.url)
    # the victim's requests are still counted; its threads are not
    assert value(samples, 'httpout_requests_total', kind='script', status='2xx') == served + 1
    assert value(samples, 'httpout_script_threads') == 2 * 4


def test_metrics_in_a_single_process(serve):
    server = serve(FILES, '--worker-num', '0', '--metrics-path', '/metrics')
    assert server.get('/ok.py').status_code == 200
    _, samples = scrape(server.url)
    assert value(samples, 'httpout_requests_total', kind='script', status='2xx') == 1
    assert value(samples, 'httpout_script_threads') == 16
    assert value(samples, 'process_resident_memory_bytes') > 0
