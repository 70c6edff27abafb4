/**
 * The bundled Stripe emulator: `startEmulator` in-process (tests, `meterline emulator`), and
 * `startEmulatorThread` on a thread of its own (`meterline start`).
 * It serves customers, billing meters, v1 meter events, the v2 meter event stream, meter event
 * adjustments and summaries, subscriptions, legacy usage records and their summaries over
 * Stripe's wire protocol, with Stripe's idempotency layer, optional rate limits, asynchronous
 * error reports as signed thin events, a controllable clock, per-endpoint faults, a ledger of
 * what "Stripe" counted, and an optional state file.
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { type Clock, unixSeconds } from "./clock.ts";
import { createContext, type EmulatorContext, type EventDestination } from "./context.ts";
import type { EndpointGroup } from "./endpoint-faults.ts";
import type { ExchangeObserver, ServedRoute } from "./exchanges.ts";
import type { FaultOutcome, Faults, Random } from "./faults.ts";
import type { Ledger } from "./ledger.ts";
import type { RateLimits } from "./rate-limits.ts";
import { requestState } from "./request-state.ts";
import { buildEmulatorApp } from "./server.ts";
import { StateFile } from "./state/state-file.ts";
import { type FlushResult, flushErrorReports, scheduleErrorReports } from "./webhooks/deliver.ts";

export type { Clock } from "./clock.ts";
export { systemClock } from "./clock.ts";
export type { EventDestination } from "./context.ts";
export type { EndpointGroup } from "./endpoint-faults.ts";
export { ENDPOINT_GROUPS } from "./endpoint-faults.ts";
export type { Exchange, ExchangeObserver, ServedRoute } from "./exchanges.ts";
export type { FaultDecision, FaultOutcome, Faults, Random } from "./faults.ts";
export { decideFault, faultsPatchSchema, NO_FAULTS } from "./faults.ts";
export type { Ledger } from "./ledger.ts";
export type { RateLimits } from "./rate-limits.ts";
export { STRIPE_LIMITS } from "./rate-limits.ts";
export type { ThinEventPayload, ThinEventRecord } from "./state/thin-events.ts";
export type { UsageRecord } from "./state/usage-records.ts";
export type { EmulatorThread } from "./thread/start.ts";
export { startEmulatorThread } from "./thread/start.ts";
export type { Delivery, FlushResult } from "./webhooks/deliver.ts";
export { signatureHeader } from "./webhooks/sign.ts";

/** How often error reports go out when `errorReportIntervalMs` is not given. */
export const DEFAULT_ERROR_REPORT_INTERVAL_MS = 30_000;

/** Options for `startEmulator`. */
export interface EmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one; default 12111. */
  port?: number;
  /** Accepted secret keys; default ["sk_test_emulator"]. */
  apiKeys?: string[];
  /** Initial faults; missing fields are 0. */
  faults?: Partial<Faults>;
  /** Log requests with pino (fastify's logger); default false. */
  logger?: boolean;
  /** Start the emulator clock at this Unix time (seconds); it runs on from there. */
  startTime?: number;
  /** Rate limits; default `{mode: "off"}` so tests and `npm start` never trip on them. */
  rateLimits?: RateLimits;
  /** Where signed thin events (asynchronous error reports) are POSTed. */
  eventDestinations?: EventDestination[];
  /** How often waiting error reports are sent (real ms); default 30 s; 0 turns the timer off. */
  errorReportIntervalMs?: number;
  /**
   * Load state from this file (and its journal) at start; from then on every change is
   * appended to the journal, and the file rewritten when the journal outgrows it
   * (state/state-file.ts).
   */
  stateFile?: string;
}

/** Test seams beyond the public options: a fixed clock, a seeded random source, an observer. */
export interface EmulatorDeps {
  /** Source of now; default the wall clock. */
  clock?: Clock;
  /** Source of [0, 1) numbers for fault decisions; default Math.random. */
  random?: Random;
  /** Told about every answer the Stripe API routes send (conformance tests check them). */
  onExchange?: ExchangeObserver;
  /**
   * Told about every request to the three usage endpoints once it has ended, answered or not,
   * with its times by the emulator's clock: the chaos run's request log (scripts/chaos).
   */
  onUsageRequest?: UsageRequestObserver;
}

/** The usage endpoints, by route: what `onUsageRequest` reports. */
const USAGE_ROUTES: ReadonlyMap<string, EndpointGroup> = new Map([
  ["/v1/billing/meter_events", "meter_events"],
  ["/v2/billing/meter_event_stream", "meter_event_stream"],
  ["/v1/subscription_items/:id/usage_records", "usage_records"],
]);

/** One request to a usage endpoint, as the emulator saw it (`EmulatorDeps.onUsageRequest`). */
export interface UsageRequest {
  /** The endpoint group. */
  group: EndpointGroup;
  /** Request path without the query string. */
  path: string;
  /** Emulator clock (ms since epoch) when the request arrived. */
  atMs: number;
  /** Emulator clock when it ended. */
  endMs: number;
  /** The Idempotency-Key header, if any. */
  idempotencyKey: string | null;
  /** The parsed body; null when the request was refused before its body was read (401, 429). */
  body: unknown;
  /** The status the emulator answered with (the client may not have received it). */
  status: number;
  /** Whether the whole answer reached the client (false: a dropped or timed-out answer). */
  answered: boolean;
  /** Answered from the idempotency layer's store (nothing executed). */
  replayed: boolean;
  /** The fault drawn for it. */
  fault: FaultOutcome;
  /** Whether the endpoint did its work (an event or record accepted), whatever was answered. */
  applied: boolean;
}

/** Receives every usage request once it ended; must not throw. */
export type UsageRequestObserver = (request: UsageRequest) => void;

/**
 * Reports every usage request to `observer` when its response closes (answered, dropped or
 * timed out). Root hooks added before the app loads its scopes: the onSend below runs after
 * the pipeline's, so it sees the final status (an injected fault's 500 included).
 */
function observeUsageRequests(
  app: FastifyInstance,
  ctx: EmulatorContext,
  observer: UsageRequestObserver,
): void {
  const seen = new WeakMap<object, { atMs: number; body: unknown; dropped: boolean }>();
  app.addHook("onRequest", async (req, reply) => {
    const group = USAGE_ROUTES.get(req.routeOptions.url ?? "");
    if (group === undefined) return;
    const entry = { atMs: ctx.clock.now(), body: null as unknown, dropped: false };
    seen.set(req, entry);
    const report = (): void => {
      const state = requestState(req);
      const fault = state?.fault.outcome ?? "none";
      const replayed = state?.replayed ?? false;
      const status = state?.answerStatus ?? reply.statusCode;
      // The endpoint ran to success unless refused, replayed or failed before it ran; an
      // ambiguous fault's 500 hides a success (pipeline.ts).
      const applied =
        state !== null &&
        !replayed &&
        fault !== "error_500" &&
        (status < 400 || (status === 500 && fault === "ambiguous_500"));
      const header = req.headers["idempotency-key"];
      observer({
        group,
        path: req.url.split("?")[0] ?? req.url,
        atMs: entry.atMs,
        endMs: ctx.clock.now(),
        idempotencyKey: (Array.isArray(header) ? header[0] : header) ?? null,
        body: entry.body,
        status,
        answered: reply.raw.writableFinished && !entry.dropped,
        replayed,
        fault,
        applied,
      });
    };
    reply.raw.once("close", () => {
      const state = requestState(req);
      // A client that gave up first (its timeout, a worker killed) closed the connection
      // before the emulator answered: the request still runs, and what it did is known only
      // once its answer is decided. Until then its status would read as the default 200.
      if (state && state.answerStatus === null) state.onAnswer = report;
      else report();
    });
  });
  app.addHook("preValidation", async (req) => {
    const entry = seen.get(req);
    if (entry) entry.body = req.body ?? null;
  });
  app.addHook("onSend", async (req, _reply, payload) => {
    // The pipeline destroys the socket of an answer it drops (or waits out a timeout's).
    const entry = seen.get(req);
    if (entry) entry.dropped = req.raw.socket.destroyed;
    return payload;
  });
}

/** A running emulator instance. */
export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:12111. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The first configured API key. */
  apiKey: string;
  /** Snapshot of the ledger (same data as GET /_emulator/ledger). */
  ledger(): Ledger;
  /** Merge new fault settings into the current ones; throws on an invalid value. */
  setFaults(f: Partial<Faults>): void;
  /** Current fault settings. */
  faults(): Faults;
  /** Make a key answer 401 until restored. */
  revokeKey(key: string): void;
  /** Undo `revokeKey`. */
  restoreKey(key: string): void;
  /** Stop listening and release the port (and write the journal's last changes, when kept). */
  close(): Promise<void>;
  /** The emulator clock, Unix seconds. */
  now(): number;
  /** Move the emulator clock by whole seconds (same as POST /_emulator/clock). */
  advanceClock(seconds: number): void;
  /** Set the emulator clock to a Unix time in seconds. */
  setClock(unix: number): void;
  /** Merge a patch into one endpoint group's faults; throws on an invalid value. */
  setEndpointFaults(group: EndpointGroup, f: Partial<Faults>): void;
  /** The faults in force for one endpoint group. */
  endpointFaults(group: EndpointGroup): Faults;
  /** Drop a group's own faults: it follows the global ones again. */
  clearEndpointFaults(group: EndpointGroup): void;
  /** Replace the rate-limit settings; throws on an invalid value. */
  setRateLimits(settings: RateLimits): void;
  /** Register an event destination for thin events. */
  addEventDestination(destination: EventDestination): void;
  /** Build and deliver the waiting error reports now. */
  flushErrorReports(): Promise<FlushResult>;
  /** Rewrite the state file now, compacting its journal (no-op without `stateFile`). */
  saveState(): Promise<void>;
  /** The Stripe API routes served (method and fastify path, `/v1/customers/:id`). */
  routes(): ServedRoute[];
}

/** The key accepted when no `apiKeys` are given. */
export const DEFAULT_EMULATOR_KEY = "sk_test_emulator";
/** The port used when no `port` is given. */
export const DEFAULT_EMULATOR_PORT = 12111;

/** Start the emulator and resolve once it listens. Throws on invalid faults or a taken port. */
export async function startEmulator(
  options: EmulatorOptions = {},
  deps: EmulatorDeps = {},
): Promise<RunningEmulator> {
  const apiKeys = options.apiKeys?.length ? [...options.apiKeys] : [DEFAULT_EMULATOR_KEY];
  const [apiKey = DEFAULT_EMULATOR_KEY] = apiKeys;
  const ctx = createContext({
    apiKeys,
    faults: options.faults ?? {},
    rateLimits: options.rateLimits,
    destinations: options.eventDestinations,
    clock: deps.clock,
    random: deps.random,
  });
  if (options.startTime !== undefined) ctx.clock.set(options.startTime);
  const routes: ServedRoute[] = [];
  const app = buildEmulatorApp(ctx, {
    logger: options.logger ?? false,
    onExchange: deps.onExchange,
    onRoute: (route) => routes.push(route),
  });
  if (deps.onUsageRequest) observeUsageRequests(app, ctx, deps.onUsageRequest);
  const logError = (error: unknown) => app.log.error({ err: error }, "emulator background task");
  const stateFile = options.stateFile
    ? await StateFile.open(ctx.store, options.stateFile, logError)
    : null;
  try {
    await app.listen({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? DEFAULT_EMULATOR_PORT,
    });
  } catch (error) {
    await stateFile?.close();
    throw error;
  }
  const interval = options.errorReportIntervalMs ?? DEFAULT_ERROR_REPORT_INTERVAL_MS;
  const stopReports = interval > 0 ? scheduleErrorReports(ctx, interval, logError) : () => {};
  const { address, port, family } = app.server.address() as AddressInfo;
  const host = family === "IPv6" ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    apiKey,
    ledger: () => ctx.store.ledger.snapshot(),
    setFaults: (f) => {
      ctx.setFaults(f);
    },
    faults: () => ctx.faults(),
    revokeKey: (key) => ctx.keys.revoke(key),
    restoreKey: (key) => ctx.keys.restore(key),
    close: async () => {
      stopReports();
      await app.close();
      await stateFile?.close();
    },
    now: () => unixSeconds(ctx.clock),
    advanceClock: (seconds) => ctx.clock.advance(seconds),
    setClock: (unix) => ctx.clock.set(unix),
    setEndpointFaults: (group, f) => {
      ctx.endpointFaults.setGroup(group, f);
    },
    endpointFaults: (group) => ctx.endpointFaults.effective(group),
    clearEndpointFaults: (group) => {
      ctx.endpointFaults.clearGroup(group);
    },
    setRateLimits: (settings) => {
      ctx.rateLimiter.configure(settings);
    },
    addEventDestination: (destination) => {
      ctx.destinations.push({ ...destination });
    },
    flushErrorReports: () => flushErrorReports(ctx),
    saveState: async () => {
      await stateFile?.compact();
    },
    routes: () => routes.map((route) => ({ ...route })),
  };
}
