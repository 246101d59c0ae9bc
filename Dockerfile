# One image for the api, the worker and the sandbox (docker-compose.yml picks the entry point).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Only runtime dependencies; tsx runs the TypeScript directly. No install scripts are needed at runtime.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY . .
# Workers start faster with the workflow code bundled at build time.
RUN npx tsx scripts/build-workflows.ts /app/dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
CMD ["node", "--import", "tsx", "api/main.ts"]
