# Loa in a container: `docker compose up` (compose.yaml) runs it with PostgreSQL 16.
# Only what running needs is installed (`pip install .`, no dev extra); tests run outside.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # matplotlib (the officials' chart) needs a writable config directory.
    MPLCONFIGDIR=/tmp/matplotlib \
    # Health and metrics server (/healthz, /metrics); the HEALTHCHECK below calls it.
    METRICS_ADDR=0.0.0.0:9464

RUN groupadd --system loa \
    && useradd --system --gid loa --home-dir /app --no-create-home --shell /usr/sbin/nologin loa

WORKDIR /app
COPY . .
# The code and data stay root-owned (read-only to the bot); only ./data/ is writable, for the
# log file and an SQLite database when no DATABASE_URL is given. The classifier's modules run
# as Python here (LOA_PURE_PYTHON: the slim image has no C compiler for mypyc; the bot runs from
# /app, not from the installed package; classify/native.py).
RUN LOA_PURE_PYTHON=1 pip install . && rm -rf build *.egg-info && chown loa:loa /app/data

USER loa
EXPOSE 9464
# /healthz on METRICS_ADDR: 200 when the database answers, the scheduler runs and every enabled
# channel is connected; 503 with the reasons otherwise (web/ops.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request; host, _, port = os.environ.get('METRICS_ADDR', '127.0.0.1:9464').rpartition(':'); host = '127.0.0.1' if host in ('', '0.0.0.0', '[::]') else host; sys.exit(urllib.request.urlopen(f'http://{host}:{port}/healthz', timeout=4).status != 200)"]

# `run` applies the database migrations before it starts polling and delivering.
CMD ["python", "bot.py", "run"]
