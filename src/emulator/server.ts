import Fastify, { type FastifyInstance } from "fastify";
import qs from "qs";
import { authenticate, isLiveRequest, readApiKey } from "./auth.ts";
import type { EmulatorContext } from "./context.ts";
import { errorHandler } from "./error-handler.ts";
import { unrecognizedUrl } from "./errors.ts";
import { asV2Error, invalidSessionToken } from "./errors-v2.ts";
import {
  type ExchangeObserver,
  exchangeOf,
  observeExchanges,
  observeRoutes,
  type ServedRoute,
} from "./exchanges.ts";
import { newRequestId } from "./ids.ts";
import { type Caller, registerPipeline } from "./pipeline.ts";
import { registerAdminRoutes } from "./routes/admin.ts";
import { registerControlRoutes } from "./routes/admin-control.ts";
import { registerCustomerRoutes } from "./routes/customers.ts";
import { registerAdjustmentRoutes } from "./routes/meter-event-adjustments.ts";
import { registerSessionRoutes } from "./routes/meter-event-sessions.ts";
import { registerStreamRoutes } from "./routes/meter-event-stream.ts";
import { registerSummaryRoutes } from "./routes/meter-event-summaries.ts";
import { registerMeterEventRoutes } from "./routes/meter-events.ts";
import { registerMeterRoutes } from "./routes/meters.ts";
import { registerPriceRoutes } from "./routes/prices.ts";
import { registerProductRoutes } from "./routes/products.ts";
import { registerSubscriptionItemRoutes } from "./routes/subscription-items.ts";
import { registerSubscriptionRoutes } from "./routes/subscriptions.ts";
import { registerUsageRecordRoutes } from "./routes/usage-records.ts";
import { registerV2EventRoutes } from "./routes/v2-events.ts";
import { sessionForToken } from "./state/sessions.ts";

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
  /** Told about every answer of the Stripe API routes (conformance tests check them). */
  onExchange?: ExchangeObserver;
  /** Told about every Stripe API route as it is registered. */
  onRoute?: (route: ServedRoute) => void;
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

  app.setErrorHandler(errorHandler("v1"));

  const { onExchange, onRoute } = options;
  if (onRoute) observeRoutes(app, onRoute);

  app.setNotFoundHandler((req, reply) => {
    const unknown = unrecognizedUrl(req.method, req.url);
    const error = req.url.startsWith("/v2/") ? asV2Error(unknown) : unknown;
    const body = JSON.stringify(error.envelope());
    // Outside the API scopes, so their observers never see it: report it here.
    if (onExchange && /^\/v[12]\//.test(req.url)) onExchange(exchangeOf(req, error.status, body));
    return reply.code(error.status).type("application/json; charset=utf-8").send(body);
  });

  registerAdminRoutes(app, ctx);
  registerControlRoutes(app, ctx);
  // Stripe checks the key before it reads the body: a 401 never depends on the request.
  const secretKey = (authorization: string | undefined): Caller => ({
    caller: authenticate(ctx.keys, authorization),
    live: isLiveRequest(authorization),
  });
  app.register(async (v1) => {
    registerPipeline(v1, ctx, {
      api: "v1",
      authenticate: (req) => secretKey(req.headers.authorization),
    });
    if (onExchange) observeExchanges(v1, onExchange);
    registerCustomerRoutes(v1, ctx);
    registerMeterRoutes(v1, ctx);
    registerMeterEventRoutes(v1, ctx);
    registerAdjustmentRoutes(v1, ctx);
    registerSummaryRoutes(v1, ctx);
    registerProductRoutes(v1, ctx);
    registerPriceRoutes(v1, ctx);
    registerSubscriptionRoutes(v1, ctx);
    registerSubscriptionItemRoutes(v1, ctx);
    registerUsageRecordRoutes(v1, ctx);
  });
  app.register(async (v2) => {
    // v2 errors always carry a code; v1's may not (see asV2Error).
    v2.setErrorHandler(errorHandler("v2"));
    registerPipeline(v2, ctx, {
      api: "v2",
      authenticate: (req) => {
        if (req.routeOptions.url !== "/v2/billing/meter_event_stream") {
          return secretKey(req.headers.authorization);
        }
        // The stream takes the session's token, never a secret key.
        const token = readApiKey(req.headers.authorization);
        const session = token === null ? null : sessionForToken(ctx.store, ctx.clock, token);
        if (token === null || session === null) throw invalidSessionToken();
        return { caller: token, live: session.session.livemode };
      },
    });
    if (onExchange) observeExchanges(v2, onExchange);
    registerSessionRoutes(v2, ctx);
    registerStreamRoutes(v2, ctx);
    registerV2EventRoutes(v2, ctx);
  });
  return app;
}
