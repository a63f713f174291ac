# syntax=docker/dockerfile:1
# PlaySmart Ingest: one image for the all-in-one service (default), the gateway and the worker.
#   docker build -t playsmart-ingest .
#   docker run … playsmart-ingest                                                  all-in-one
#   docker run … playsmart-ingest node --enable-source-maps dist/apps/gateway/src/main.js   gateway
#   docker run … playsmart-ingest node --enable-source-maps dist/apps/worker/src/main.js    worker
# See docker-compose.yml for a complete stack. Not built or run in this repository's CI (no Docker there).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile the TypeScript with the dev dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's allowScripts (npm 11) allows no install script, and the image's npm may be older
# and ignore allowScripts; this keeps the two equivalent.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY apps ./apps
COPY libs ./libs
COPY scripts ./scripts
RUN npm run build

# --- runtime: production dependencies and the compiled code only, as the unprivileged node user ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at run time too: its "imports" map #platform, #contract, … to dist/.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only: /health/ready also checks Redis (and PostgreSQL for the worker), which is for load balancers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:${PORT:-3000}/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# SIGTERM drains (SHUTDOWN_TIMEOUT_MS, 10 s by default): give the container a longer stop timeout than that.
CMD ["node", "--enable-source-maps", "--max-old-space-size=1536", "dist/src/main.js"]
