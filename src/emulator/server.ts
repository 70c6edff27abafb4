import Fastify, { type FastifyInstance } from "fastify";
import qs from "qs";
import { authenticate } from "./auth.ts";
import type { EmulatorContext } from "./context.ts";
import { apiError, StripeHttpError, unrecognizedUrl } from "./errors.ts";
import { newRequestId } from "./ids.ts";
import { registerAdminRoutes } from "./routes/admin.ts";
import { registerCustomerRoutes } from "./routes/customers.ts";
import { registerMeterEventRoutes } from "./routes/meter-events.ts";
import { registerMeterRoutes } from "./routes/meters.ts";

// Stripe's bracket nesting (`payload[value]=3`, `expand[0]=x`); prototypes stay off so a
// `__proto__[x]` parameter cannot reach Object.prototype.
const QS_OPTIONS: qs.IParseOptions = {
  depth: 10,
  arrayLimit: 100,
  parameterLimit: 2000,
  allowPrototypes: false,
};

/** Options of the HTTP app, beyond the context. */
export interface AppOptions {
  /** Log every request with fastify's pino logger. */
  logger: boolean;
}

/**
 * The emulator's fastify app, not yet listening (so tests can also use `app.inject()`).
 * Speaks Stripe's wire protocol: form-encoded v1 bodies, JSON answers, a `Request-Id` on every
 * response, Stripe's error envelope, 401 before anything else on /v1.
 */
export function buildEmulatorApp(ctx: EmulatorContext, options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger,
    genReqId: () => newRequestId(),
    // Never trust a client's request id: Stripe always mints its own.
    requestIdHeader: false,
    // Keep-alive sockets (stripe-node uses them) must not hold close() open.
    forceCloseConnections: true,
    routerOptions: { querystringParser: (query) => qs.parse(query, QS_OPTIONS) },
  });

  app.addHook("onRequest", async (req, reply) => {
    reply.header("Request-Id", req.id);
  });

  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_req, body, done) => done(null, qs.parse(String(body), QS_OPTIONS)),
  );

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof StripeHttpError) {
      return reply.code(error.status).headers(error.headers).send(error.envelope());
    }
    // fastify's own client errors (unparsable body, unsupported media type, body too large).
    const status = statusOf(error);
    if (status >= 400 && status < 500) {
      const message = error instanceof Error ? error.message : "Invalid request";
      return reply.code(status).send({ error: { type: "invalid_request_error", message } });
    }
    req.log.error({ err: error }, "emulator bug");
    const failure = apiError();
    return reply.code(failure.status).send(failure.envelope());
  });

  app.setNotFoundHandler((req, reply) => {
    const error = unrecognizedUrl(req.method, req.url);
    return reply.code(error.status).send(error.envelope());
  });

  registerAdminRoutes(app, ctx);
  app.register(async (v1) => {
    // Stripe checks the key before it reads the body: a 401 never depends on the request.
    v1.addHook("onRequest", async (req) => {
      authenticate(ctx.keys, req.headers.authorization);
    });
    registerCustomerRoutes(v1, ctx);
    registerMeterRoutes(v1, ctx);
    registerMeterEventRoutes(v1, ctx);
  });
  return app;
}

function statusOf(error: unknown): number {
  if (typeof error === "object" && error !== null && "statusCode" in error) {
    const status = error.statusCode;
    if (typeof status === "number") return status;
  }
  return 500;
}
