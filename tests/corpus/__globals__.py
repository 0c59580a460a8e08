# Runs once in each worker. The corpus's site-wide settings and middleware,
# as a small real site would have them.
import itertools
import os
import tempfile

from httpout import app

# The guestbook's database lives outside the document root, where no URL
# can reach it; the deployment says where.
GUESTBOOK_DB = os.environ.get('GUESTBOOK_DB') or os.path.join(
    tempfile.gettempdir(), 'guestbook.sqlite3')

_request_ids = itertools.count(1)


@app.on_request
async def request_id(response, **server):
    # set before the page runs, so it stays on error pages and refusals too
    response.set_header(b'X-Request-Id', b'%d-%d' % (os.getpid(), next(_request_ids)))


@app.on_response
async def security_headers(response, **server):
    response.set_header(b'X-Content-Type-Options', b'nosniff')
