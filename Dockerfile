# One image for the server and the workers (docker-compose.yml picks the command).
ARG DENO_VERSION=2.9.6
FROM denoland/deno:debian-${DENO_VERSION}

# curl: the compose healthchecks make a real Health/Check call with it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends curl ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN chown deno:deno /app
USER deno

# Dependencies first: this layer stays cached until deno.json or deno.lock change.
COPY --chown=deno:deno deno.json deno.lock ./
RUN deno install --frozen

COPY --chown=deno:deno . .
# Resolve every import now, so a missing module fails the build rather than the start.
RUN deno cache server/main.ts \
  && if [ -f worker/main.ts ]; then deno cache worker/main.ts; fi

ENV TASKMESH_HOST=0.0.0.0 \
  TASKMESH_PORT=8080 \
  TASKMESH_DATA_DIR=/app/.data
EXPOSE 8080
CMD ["deno", "task", "server"]
