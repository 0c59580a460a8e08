# Runs once in each worker process, when it starts. Pages see the names
# defined here as __globals__.name. This file itself is never served.
import threading
import time

from httpout import app

started = time.time()
_lock = threading.Lock()  # pages run on several threads at once
_requests = 0


def count_request():
    """Count one more request served by this worker; return the total."""
    global _requests

    with _lock:
        _requests += 1
        return _requests


def requests_served():
    with _lock:
        return _requests


@app.on_request
async def count(**server):
    count_request()  # every request: pages, static files, refusals


@app.on_response
async def powered_by(**server):
    # runs just before the response headers are sent, so it can still add one
    server['response'].set_header(b'X-Powered-By', b'httpout')


@app.on_worker_stop
async def goodbye(**worker):
    worker['logger'].info('this worker served %d requests', requests_served())
