import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/connect.ts";
import { migrate } from "./db/migrate.ts";
import type { DeliveryMode } from "./db/schema/meters.ts";
import type { EmulatorThread } from "./emulator/index.ts";
import { createLogger } from "./logging/logger.ts";
import { startMetricsListener } from "./metrics/listener.ts";
import { ProcessMetrics } from "./metrics/process-metrics.ts";
import { RETENTION_DEFAULTS, startRetentionJob } from "./outbox/retention-job.ts";
import { startReconcileJob } from "./reconcile/job.ts";
import { fromMetersList } from "./reporter/account-probe.ts";
import { AimdLimiter, aimdFor, rateFor } from "./reporter/limiter.ts";
import { fromMeterEvents } from "./reporter/sinks/meter-events.ts";
import { fromMeterStream } from "./reporter/sinks/meter-stream.ts";
import type { UsageSink } from "./reporter/sinks/port.ts";
import { fromUsageRecords } from "./reporter/sinks/usage-records.ts";
import { createStripeClient } from "./reporter/stripe-client.ts";
import { type Reporter, startReporter } from "./reporter/worker.ts";

/** The key the bundled emulator accepts, and the one Meterline uses against it. */
export const EMULATOR_KEY = "sk_test_emulator";

/** Which parts one process runs: `start` runs all; `serve` and `worker` one each. */
export interface SystemParts {
  api: boolean;
  worker: boolean;
  /**
   * Whether the bundled emulator starts when no STRIPE_SECRET_KEY is set. Default: when the
   * worker runs. `start` always wants it (the development banner and seed talk to it), even
   * with METERLINE_WORKER=false.
   */
  emulator?: boolean;
}

/** A running Meterline process: whatever parts it started, and how to stop them in order. */
export interface System {
  config: Config;
  database: Database;
  logger: Logger;
  /** The API's URL, when the API runs. */
  apiUrl: string | null;
  /** The bundled emulator (on a thread of its own), when no Stripe key was configured. */
  emulator: EmulatorThread | null;
  reporter: Reporter | null;
  app: FastifyInstance | null;
  /** The metrics listener's URL (METERLINE_METRICS_LISTEN), when one runs. */
  metricsUrl: string | null;
  /** Stops claiming, lets in-flight sends settle, closes the API, the emulator and the database. */
  stop(): Promise<void>;
}

/** Opens the database where the config says: Postgres by URL, else PGlite in the data folder. */
export function openConfiguredDatabase(config: Config): Promise<Database> {
  return config.databaseUrl
    ? openDatabase({ url: config.databaseUrl })
    : openDatabase({ dataDir: join(config.dataDir, "pglite") });
}

/**
 * Starts the configured parts in one process. The emulator starts only when the API or worker
 * needs Stripe and no STRIPE_SECRET_KEY is set: that is how `npm start` needs no account.
 */
export async function startSystem(config: Config, parts: SystemParts): Promise<System> {
  const logger = createLogger(config);
  // One registry per process: its worker and its API count into the same one.
  const metrics = new ProcessMetrics();
  const database = await openConfiguredDatabase(config);
  const stops: Array<() => Promise<void>> = [() => database.close()];
  try {
    await migrate(database);

    let emulator: EmulatorThread | null = null;
    let stripeBase = config.stripe.apiBase;
    let stripeKey = config.stripe.secretKey;
    if (stripeKey === null && (parts.emulator ?? parts.worker)) {
      // On its own thread: its requests and state file never hold up the API's and the
      // worker's event loop (emulator/thread/start.ts).
      // Loaded only here (like the API below): a `worker` against Stripe never pays for the
      // emulator's or the HTTP server's modules in start-up time and memory.
      const { startEmulatorThread } = await import("./emulator/index.ts");
      emulator = await startEmulatorThread({
        port: config.stripe.emulatorPort,
        apiKeys: [EMULATOR_KEY],
        // Kept beside the embedded database, so a restart finds the Stripe customers and meters
        // that Meterline's rows are linked to.
        stateFile: join(config.dataDir, "stripe-emulator.json"),
        // Asynchronous rejections reach billing sync within seconds in development.
        errorReportIntervalMs: 5_000,
      });
      stops.unshift(() => emulator?.close() ?? Promise.resolve());
      stripeBase = emulator.url;
      stripeKey = emulator.apiKey;
    }

    const stripe =
      stripeKey === null
        ? null
        : createStripeClient({
            secretKey: stripeKey,
            apiBase: stripeBase,
            timeoutMs: config.stripe.requestTimeoutMs,
          });

    let reporter: Reporter | null = null;
    if (parts.worker && stripe !== null && stripeKey !== null) {
      // One adapter per mode for the whole process: the stream's session is shared by all sends.
      const sinks: Partial<Record<DeliveryMode, UsageSink>> = {
        meter_events: fromMeterEvents(stripe),
        meter_stream: fromMeterStream(stripe),
        usage_records: fromUsageRecords(stripe),
      };
      reporter = startReporter({
        db: database.db,
        settings: config.worker,
        sinkFor: (mode) => sinks[mode],
        probeAccount: fromMetersList(stripe),
        limiter: processLimiter(config, stripeKey, stripeBase !== null),
        metrics: metrics.reporter,
        logger: logger.child({ part: "reporter" }),
      });
      const running = reporter;
      stops.unshift(() => running.stop());
      if (config.reconcile.everyMinutes > 0) {
        // Stopped before the reporter and the database: a run under way finishes first.
        stops.unshift(
          startReconcileJob({
            db: database.db,
            stripe,
            owner: config.worker.id,
            everyMs: config.reconcile.everyMinutes * 60_000,
            hours: config.reconcile.hours,
            settleMinutes: config.reconcile.settleMinutes,
            logger: logger.child({ part: "reconcile" }),
          }),
        );
      }
      if (config.retentionDays > 0) {
        // Stopped before the reporter and the database: a sweep ends after its current batch.
        stops.unshift(
          startRetentionJob({
            db: database.db,
            owner: config.worker.id,
            days: config.retentionDays,
            settleMinutes: config.reconcile.settleMinutes,
            ...RETENTION_DEFAULTS,
            logger: logger.child({ part: "retention" }),
            removed: metrics.retention.removed,
          }),
        );
      }
    }

    let app: FastifyInstance | null = null;
    let apiUrl: string | null = null;
    if (parts.api) {
      // Readiness reads the circuits from the database (ops/health-routes.ts), the one truth
      // every process shares: not this process's worker, which `serve` does not have.
      const { buildApp } = await import("./http/app.ts");
      const { STRIPE_EVENTS_PATH, stripeEventsRoutes } = await import(
        "./billing/stripe-events-route.ts"
      );
      app = await buildApp({
        db: database.db,
        config,
        loggerInstance: logger.child({ part: "api" }),
        metrics,
        stripe,
      });
      // Billing sync: Stripe's thin events (asynchronous rejections). With the bundled emulator
      // the signing secret is made here and the emulator is told where to deliver.
      const webhookSecret =
        config.stripe.webhookSecret ??
        (emulator ? `whsec_${randomBytes(24).toString("hex")}` : null);
      if (stripe !== null && webhookSecret !== null) {
        await app.register(stripeEventsRoutes, { db: database.db, stripe, webhookSecret });
      }
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      apiUrl = `http://${config.host}:${port}`;
      if (emulator && webhookSecret !== null) {
        await emulator.addEventDestination({
          url: `${apiUrl}${STRIPE_EVENTS_PATH}`,
          secret: webhookSecret,
        });
      }
      const running = app;
      // The API closes first, so no new event is accepted while the worker drains.
      stops.unshift(() => running.close());
    }

    let metricsUrl: string | null = null;
    if (config.metrics.listen) {
      // After the parts: an API process's listener shows the queue gauges its app registered.
      const listener = await startMetricsListener(metrics.registry, config.metrics.listen);
      stops.unshift(() => listener.close());
      metricsUrl = listener.url;
    }

    let stopping: Promise<void> | null = null;
    return {
      metricsUrl,
      config,
      database,
      logger,
      apiUrl,
      emulator,
      reporter,
      app,
      stop() {
        stopping ??= (async () => {
          for (const stop of stops) await stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    for (const stop of stops) await stop().catch(() => {});
    throw err;
  }
}

/**
 * The process's rate limiter: by the key's Stripe mode, METERLINE_RATE_LIMIT, or none against
 * an emulator (the bundled one or any STRIPE_API_BASE; see reporter/limiter.ts rateFor).
 */
function processLimiter(config: Config, secretKey: string, emulator: boolean): AimdLimiter | null {
  const rate = rateFor({ secretKey, emulator, configured: config.worker.rateLimit });
  return rate === null ? null : new AimdLimiter(aimdFor(rate), Date.now());
}
