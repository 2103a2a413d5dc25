# syntax=docker/dockerfile:1
# One image for all three long-running commands: `operator`, `apiserver` and `gateway`
# (pick one with the container's args; the default is the gateway).
# Node 24 runs the TypeScript sources directly (type stripping), so there is no compile stage:
# the image holds our .ts files plus the production dependencies, nothing else.
ARG NODE_IMAGE=node:24-bookworm-slim

# Stage 1: production dependencies only, from the lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime image.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY lib ./lib
COPY schemas ./schemas
COPY templates ./templates
COPY renderer ./renderer
COPY reconciler ./reconciler
COPY apiserver ./apiserver
COPY gateway ./gateway
COPY status ./status
# The node base image's unprivileged user (uid/gid 1000); numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# gateway 8080, lifecycle API server 8081, operator metrics and probes 9090 (each command's default port).
# `xtrinode gitops sync` needs a git binary, which this image leaves out: run it from CI (npm ci).
EXPOSE 8080 8081 9090
ENTRYPOINT ["node", "bin/xtrinode.ts"]
CMD ["gateway"]
