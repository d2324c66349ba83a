# newsbot: docker build -t newsbot . && docker run --rm newsbot run --once
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

# Then the package itself, without touching the dependencies installed above.
COPY bot ./bot
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# Files the bot reads from its working directory (NEWSBOT_RULES_DIR, NEWSBOT_FEEDS).
COPY rules ./rules
COPY seeds ./seeds
COPY feeds.yaml ./

USER newsbot
VOLUME ["/data"]
# The bot's one HTTP server: Slack events and the health check (NEWSBOT_HTTP_PORT).
EXPOSE 8080

ENTRYPOINT ["newsbot"]
CMD ["run"]
