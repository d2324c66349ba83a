# newsbot: docker build -t newsbot . && docker run --rm newsbot run --once

# The package as a wheel, with the rule engine's C core (bot/rules/_cmatch.c) compiled here:
# the image gets the wheel, not the compiler.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSBOT_DATA_DIR=/data

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin newsbot \
 && mkdir -p /data \
 && chown newsbot:newsbot /data

WORKDIR /app

# Dependencies first, from pyproject.toml alone (with an empty stand-in package), so this
# layer is rebuilt only when the dependencies change, not on every code change.
COPY pyproject.toml README.md ./
RUN mkdir bot && touch bot/__init__.py \
 && pip install . \
 && pip uninstall -y newsbot \
 && rm -rf bot build ./*.egg-info

# Then the package itself (the wheel from the build stage), without touching the dependencies
# installed above; the import fails the build if the C core is missing.
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels \
 && python -c "import bot.rules._cmatch"

# Files the bot reads from its working directory (NEWSBOT_RULES_DIR, NEWSBOT_FEEDS).
COPY rules ./rules
COPY seeds ./seeds
COPY feeds.yaml ./

USER newsbot
VOLUME ["/data"]
# The bot's public HTTP server: Slack events, webhooks and /healthz (NEWSBOT_HTTP_PORT); and
# /metrics (NEWSBOT_METRICS_PORT), reachable from outside the container only with
# NEWSBOT_METRICS_HOST=0.0.0.0 (docker-compose.yml sets it; it listens on loopback otherwise).
EXPOSE 8080 9464

# Unhealthy when /healthz on NEWSBOT_HTTP_PORT stops answering 200 (python: there is no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('NEWSBOT_HTTP_PORT') or 8080), timeout=4)"]

ENTRYPOINT ["newsbot"]
CMD ["run"]
