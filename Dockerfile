# One image for the three cratewatch services (ingest, scorer, notifier); docker-compose.yml picks
# the service by its command: node services/<name>/dist/main.js
# syntax=docker/dockerfile:1

FROM node:20-slim AS build
WORKDIR /app
ENV CI=true
# The whole workspace (filtered by .dockerignore): npm ci needs every workspace's package.json,
# tsc -b needs every project's sources.
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
# git: ingest can follow the advisory-db and org workspaces as git repositories.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    CRATEWATCH_STATE_DIR=/var/lib/cratewatch/state
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /var/lib/cratewatch/state && chown -R node:node /var/lib/cratewatch
USER node
# Default service; docker-compose.yml sets the command of each one.
CMD ["node", "services/scorer/dist/main.js"]
