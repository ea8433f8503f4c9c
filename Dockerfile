# Build stage: a wheel of the project and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: no compilers, a non-root user, the database on a volume.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot /data
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY config ./config
COPY seeds ./seeds
USER bot
ENV BOT_DATABASE=/data/bot.sqlite3 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
