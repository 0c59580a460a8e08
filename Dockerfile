# httpout in a container: a slim Python, the package from this source tree,
# a non-root user, and a document root at /srv/www.
#
#   docker build -t httpout .
#   docker run --rm -p 8000:8000 -v "$PWD/www:/srv/www:ro" httpout
#
# /srv/www holds a copy of example/ so that the image shows something on its
# own; mount your own folder over it, read-only. Options after the image name
# are added to the command line, e.g. `docker run ... httpout --worker-num 4`.
# docs/deployment.md has the details (uvloop, nginx, compose, TLS).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Extras to install with the package, e.g. --build-arg EXTRAS=uvloop
# (then run with --loop uvloop).
ARG EXTRAS=""

# The package, installed (not editable) from the source tree; the tree and
# the build's leftovers are removed in the same layer, and no pip cache is
# kept.
WORKDIR /tmp/httpout-src
COPY pyproject.toml README.md LICENSE ./
COPY httpout ./httpout
RUN pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}" \
    && cd / && rm -rf /tmp/httpout-src

# An unprivileged user without a login shell or home. It owns nothing in the
# image: the document root and the installed package are root's and only
# readable, so a script cannot modify the site or the server.
RUN groupadd --system --gid 10001 httpout \
    && useradd --system --uid 10001 --gid httpout --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin httpout

# The document root. Mount yours here read-only: -v "$PWD/www:/srv/www:ro".
COPY example /srv/www
WORKDIR /srv/www

USER httpout:httpout

EXPOSE 8000

# Healthy when httpout's --health-path answers 200: no script runs for it
# and no file is read, so it is cheap at any interval, and it answers 503
# once the server stops (docs/operations.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import http.client;c=http.client.HTTPConnection('127.0.0.1',8000,timeout=4);c.request('GET','/healthz');raise SystemExit(c.getresponse().status!=200)"]

# Exec form: httpout is PID 1 and receives SIGTERM from `docker stop`
# directly; it lets in-flight requests finish (--shutdown-timeout).
# SIGHUP (`docker kill -s HUP`) restarts the workers one after another,
# e.g. after a change to __globals__.py.
ENTRYPOINT ["python", "-m", "httpout", "--host", "0.0.0.0", "--port", "8000", "--health-path", "/healthz", "/srv/www"]
