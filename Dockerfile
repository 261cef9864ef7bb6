# The bot as a container: `docker build -t baerekraft-bot .` then see compose.yaml, or
#   docker run --env-file .env -p 8000:8000 -v baerekraft:/var/lib/baerekraft baerekraft-bot
# The image holds the wheel (templates and migrations are its package data) and nothing else of
# the source tree; it runs as an unprivileged user and migrates the database at start.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    INBOX_SPOOL_DIR=/var/lib/baerekraft/spool
COPY --from=build /wheels /wheels
# Only the wheels built above: what was tested in the build stage is what runs.
RUN pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/baerekraft --create-home baerekraft
USER baerekraft
WORKDIR /var/lib/baerekraft
VOLUME ["/var/lib/baerekraft"]
EXPOSE 8000
# Liveness: 200 while the process serves and reaches its database (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4)"]
# Stopped with SIGTERM: the bot finishes the message in flight and stops within its grace period.
STOPSIGNAL SIGTERM
CMD ["baerekraft-bot", "run", "--no-console"]
