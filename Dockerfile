# The shardflow image: every role (coordinator, worker, producer) is the same image with a different
# command, as `docker-compose.yml` shows. TypeScript runs through tsx, as on a developer's machine.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    SHARDFLOW_DATA_DIR=/data \
    SHARDFLOW_METRICS_PORT=9464
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY actors ./actors
COPY cli ./cli
COPY cluster ./cluster
COPY common ./common
COPY coordinator ./coordinator
COPY engine ./engine
COPY jobs ./jobs
COPY tsconfig.json ./
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9464
# Healthy while the process answers on /healthz (with the metrics token, when one is set). /metrics
# listens on 127.0.0.1 unless SHARDFLOW_METRICS_HOST says otherwise (docker-compose.yml opens it to
# its network for Prometheus).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "const t=process.env.SHARDFLOW_METRICS_TOKEN;fetch('http://127.0.0.1:'+(process.env.SHARDFLOW_METRICS_PORT||9464)+'/healthz',{headers:t?{authorization:'Bearer '+t}:{}}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/shardflow.mjs"]
CMD ["--help"]
