import type { FastifyPluginAsync } from "fastify";
import type { Registry } from "prom-client";
import type { ApiKeyVerifier } from "../http/api-key-cache.ts";
import { authenticate } from "../http/auth.ts";

/** What GET /metrics needs. */
export interface MetricsRouteOptions {
  registry: Registry;
  apiKeys: ApiKeyVerifier;
  /** METERLINE_METRICS_PUBLIC: no key needed (a scraper on a private network). */
  public: boolean;
}

/**
 * GET /metrics: the process's metrics in Prometheus's text format. It tells who is billed how
 * much and how the account fares, so it needs an admin key (Prometheus sends it as
 * `authorization: { credentials: … }`) unless METERLINE_METRICS_PUBLIC=true; a separate listener
 * (METERLINE_METRICS_LISTEN, metrics/listener.ts) needs none.
 */
export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, options) => {
  if (!options.public) app.addHook("onRequest", authenticate(options.apiKeys));
  app.get("/metrics", { config: { role: "admin" } }, async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });
};
