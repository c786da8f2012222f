# The shardflow image: every role (coordinator, worker, producer) is the same image with a different
# command, as `docker-compose.yml` and deploy/k8s show. TypeScript runs through tsx, as on a developer's
# machine.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    SHARDFLOW_DATA_DIR=/data \
    SHARDFLOW_METRICS_PORT=9464
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The whole build context, less what .dockerignore keeps out (tests, benchmarks, local state, secrets):
# a source folder added later is in the image without a change here. deploy/image-files.test.ts walks
# every import of bin/shardflow.mjs and fails naming any module the image would lack.
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9464
# Healthy while the process answers on /healthz, at SHARDFLOW_METRICS_HOST (loopback when it listens on
# every address) and with SHARDFLOW_METRICS_TOKEN when one is set. /metrics listens on 127.0.0.1 unless
# SHARDFLOW_METRICS_HOST says otherwise (docker-compose.yml opens it to its network for Prometheus).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "bin/healthcheck.mjs"]
ENTRYPOINT ["node", "bin/shardflow.mjs"]
CMD ["--help"]
