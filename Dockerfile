# syntax=docker/dockerfile:1

# Build stage: the compiler toolchain better-sqlite3 needs if no prebuilt binary fits,
# all dependencies, and the TypeScript build.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled JavaScript only, as a non-root user.
FROM node:20-bookworm-slim AS runtime
# A smaller young generation keeps peak RSS under load near 120 MB instead of ~135 MB
# (measured by npm run bench); npm start passes the same flag.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=8 \
    DATABASE_URL=sqlite:////data/app.db \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
RUN mkdir -p /data && chown node:node /data
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm): signals reach the server, and it prints nothing but JSON lines.
CMD ["node", "dist/server.js"]
