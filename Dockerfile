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
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HTTPOUT_HEALTH_PATH=/

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

# Healthy when the server answers HTTP at all: any status below 500 (a
# document root without an index page gives 404 for /, which is fine).
# Point HTTPOUT_HEALTH_PATH at a cheap URL, e.g. a static file, if / runs
# an expensive script.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import http.client,os;c=http.client.HTTPConnection('127.0.0.1',8000,timeout=4);c.request('GET',os.environ.get('HTTPOUT_HEALTH_PATH','/'));raise SystemExit(c.getresponse().status>=500)"]

# Exec form: httpout is PID 1 and receives SIGTERM from `docker stop`
# directly; it lets in-flight requests finish (--shutdown-timeout).
ENTRYPOINT ["python", "-m", "httpout", "--host", "0.0.0.0", "--port", "8000", "/srv/www"]
