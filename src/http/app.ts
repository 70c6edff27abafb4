import { randomUUID } from "node:crypto";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from "fastify";
import type Stripe from "stripe";
import type { Config } from "../config.ts";
import { dashboardPage } from "../dashboard/page-route.ts";
import type { Db } from "../db/connect.ts";
import { customersRoutes } from "../ingest/customers-route.ts";
import { eventTraceRoutes } from "../ingest/event-trace-route.ts";
import { eventsRoutes } from "../ingest/events-route.ts";
import { metricsRoute } from "../metrics/metrics-route.ts";
import { ProcessMetrics } from "../metrics/process-metrics.ts";
import { registerQueueGauges } from "../metrics/queue-gauges.ts";
import { docsRoutes } from "../openapi/docs-routes.ts";
import { installRouteBook } from "../openapi/route-book.ts";
import { apiKeysRoutes } from "../ops/api-keys-route.ts";
import { dashboardRoutes } from "../ops/dashboard-route.ts";
import { deadLettersRoutes } from "../ops/dead-letters-route.ts";
import { healthRoutes, type Readiness } from "../ops/health-routes.ts";
import { metersRoutes } from "../ops/meters-route.ts";
import { pendingRoutes } from "../ops/pending-route.ts";
import { statsRoutes } from "../ops/stats-route.ts";
import { workerGoneAfterMs } from "../outbox/workers.ts";
import { reconciliationRoutes } from "../reconcile/reconciliations-route.ts";
import { openApiKeyCache } from "./api-key-cache.ts";
import { authenticate } from "./auth.ts";
import { handleClientError } from "./client-errors.ts";
import { handleError } from "./error-handler.ts";
import { handleFrameworkError } from "./framework-errors.ts";
import { installJsonParser } from "./json-body.ts";
import { BODY_LIMIT, MAX_PARAM_LENGTH } from "./limits.ts";
import { installNotFound } from "./not-found.ts";
import { installOversizeDrain } from "./oversize-body.ts";
import { RequestLog } from "./request-log.ts";
import { installTextGuard } from "./text-guard.ts";

/** What the HTTP app needs from its entry point. */
export interface AppDeps {
  db: Db;
  config: Config;
  /** Fastify logger: false (default) for none, true or pino options to log. */
  logger?: FastifyServerOptions["logger"];
  /** The process's logger, used instead of `logger` when given (one format for every part). */
  loggerInstance?: FastifyBaseLogger;
  /** Readiness of the parts beyond the database (worker, Stripe account); ready when absent. */
  readiness?: Readiness;
  /** The process's metrics (its worker counts into them too); a registry of its own when absent. */
  metrics?: ProcessMetrics;
  /** The process's Stripe client, for reconciliation; null or absent when it has no key. */
  stripe?: Stripe | null;
}

/**
 * Builds the HTTP API. The same app serves production (`listen`) and tests (`inject`). It is
 * returned before `ready()`, so a caller may still register more routes (webhooks, dashboard).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.loggerInstance
      ? { loggerInstance: deps.loggerInstance }
      : { logger: deps.logger ?? false }),
    // One line per request, at debug (request-log.ts).
    logController: new RequestLog(),
    bodyLimit: BODY_LIMIT,
    // Customer keys may be 255 characters, percent-encoded to more; the routes check the rule.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A caller's (or proxy's) X-Request-Id is kept, so one id follows a request across systems.
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    // A client that hangs up mid-batch must not leave a handler writing to a closed socket for long.
    requestTimeout: 60_000,
    // What fastify and Node refuse before any route runs is answered in our error shape too.
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  });
  app.decorateRequest("apiKey", null);
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  installJsonParser(app);
  installOversizeDrain(app);
  installNotFound(app);
  // Every route from here on, for /openapi.json and /docs (each documents itself: config.doc).
  const routes = installRouteBook(app);
  installTextGuard(app);
  app.setErrorHandler(handleError);

  // Every /v1 request checks its key against this cache; closing the app stops its LISTEN.
  const apiKeys = openApiKeyCache(deps.db);
  app.addHook("onClose", () => apiKeys.close());

  // A worker is gone after two of its leases without a heartbeat (outbox/workers.ts).
  const liveWithinMs = workerGoneAfterMs(deps.config.worker.leaseMs);
  await app.register(healthRoutes, {
    db: deps.db,
    apiKeys,
    readiness: deps.readiness,
    liveWithinMs,
  });
  // GET /metrics: this process's counters and the queue's gauges (read from the database).
  const metrics = deps.metrics ?? new ProcessMetrics();
  registerQueueGauges(metrics.registry, deps.db, liveWithinMs);
  await app.register(metricsRoute, {
    registry: metrics.registry,
    apiKeys,
    public: deps.config.metrics.public,
  });
  await app.register(docsRoutes, { routes });
  // GET /dashboard: the on-call page (public files; it signs in with an admin key to /v1).
  await app.register(dashboardPage);
  await app.register(
    async (v1) => {
      // Every /v1 route needs a key; each route's config.role says which (admin when unset).
      v1.addHook("onRequest", authenticate(apiKeys));
      await v1.register(eventsRoutes, {
        db: deps.db,
        maxFutureMinutes: deps.config.ingest.maxFutureMinutes,
        metrics: metrics.ingest,
      });
      await v1.register(eventTraceRoutes, { db: deps.db, liveWithinMs });
      await v1.register(customersRoutes, { db: deps.db });
      await v1.register(metersRoutes, { db: deps.db });
      await v1.register(statsRoutes, { db: deps.db });
      await v1.register(deadLettersRoutes, { db: deps.db, config: deps.config });
      await v1.register(pendingRoutes, { db: deps.db });
      await v1.register(apiKeysRoutes, { db: deps.db });
      await v1.register(reconciliationRoutes, { db: deps.db, stripe: deps.stripe ?? null });
      await v1.register(dashboardRoutes, { db: deps.db, liveWithinMs });
    },
    { prefix: "/v1" },
  );
  return app;
}
