# LensGraph: the same `pip install .` the tests run, on a slim Python, as a non-root user.
#   docker build -t lensgraph .
#   docker run -p 3000:3000 -e LENSGRAPH_API_KEY=$(openssl rand -hex 24) -v lensgraph-data:/data lensgraph
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY graph ./graph
COPY resolvers ./resolvers
COPY storage ./storage
RUN pip install . && useradd --system --uid 10001 --home-dir /data lensgraph && mkdir -p /data \
    && chown lensgraph /data

USER lensgraph
# The embedded database and its backups live here; mount a volume to keep them.
VOLUME ["/data"]
ENV LENSGRAPH_HOST=0.0.0.0 \
    LENSGRAPH_PORT=3000 \
    LENSGRAPH_DATABASE_URL=sqlite:////data/lensgraph.db
EXPOSE 3000

# /readyz answers 503 while the store cannot be read or the live feed is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/readyz', timeout=2).status != 200)"]

# Listening on 0.0.0.0 needs authentication: set LENSGRAPH_API_KEY (or LENSGRAPH_REQUIRE_AUTH=true).
# Dev mode refuses a public address unless LENSGRAPH_ALLOW_REMOTE_DEV_MODE=true says the network is trusted.
ENTRYPOINT ["lensgraph"]
CMD ["serve"]
