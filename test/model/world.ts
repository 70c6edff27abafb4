/**
 * The real system of one model run: its own emulator (with a request log and a controllable
 * clock), billing sync's route behind a re-signing relay, customers and meters of its own in the
 * suite's shared database (ids prefixed by the run), and up to two reporter workers.
 *
 * Time travel: the database's clock cannot move, so a jump moves the stored times of every usage
 * event back (all but occurred_at: see `jump`) and the emulator's clock forward. Stripe then sees
 * each event older by the jumps than it is: a run jumps at most MAX_JUMPS times (≤ 75 h), far
 * inside Stripe's 35 days. Usage records' subscriptions start 10 days before the run, so every
 * event falls in their current period.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { readAsyncReport } from "../../src/billing/async-rejections.ts";
import { STRIPE_EVENTS_PATH, stripeEventsRoutes } from "../../src/billing/stripe-events-route.ts";
import { type Config, defaultConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { type DeliveryMode, meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import {
  ENDPOINT_GROUPS,
  type Ledger,
  NO_FAULTS,
  type RunningEmulator,
  startEmulator,
} from "../../src/emulator/index.ts";
import { buildApp } from "../../src/http/app.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";
import { resolveDeadLetters } from "../../src/outbox/dlq-resolve.ts";
import { retryDeadLetters } from "../../src/outbox/dlq-retry.ts";
import { fromMetersList } from "../../src/reporter/account-probe.ts";
import type { ReporterLogger } from "../../src/reporter/logger.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import { fromMeterStream } from "../../src/reporter/sinks/meter-stream.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";
import { fromUsageRecords } from "../../src/reporter/sinks/usage-records.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { type Reporter, startReporter } from "../../src/reporter/worker.ts";
import { memoryLogger } from "../reporter/harness.ts";
import { insertEvents } from "../reporter/seed.ts";
import { subscribedItem } from "../reporter/subscriptions.ts";
import { HEALTHY_CUSTOMERS, type Kind, type ModelEvent } from "./model.ts";
import { type Relay, startRelay } from "./relay.ts";
import { RequestLog } from "./request-log.ts";

/** The key the run's emulator accepts (and revokes). */
export const KEY = "sk_test_model";
/** The signing secret of billing sync's event destination. */
export const SECRET = "whsec_model_billing_sync";
/** Subscriptions for usage records start this long before the run (see the header). */
const PERIOD_BACKDATE_S = 10 * 24 * 3600;

/** The reporter's settings in a model run: small timings; a kill abandons in-flight sends. */
export function modelSettings(id: string): Config["worker"] {
  return {
    ...defaultConfig().worker,
    id,
    batchSize: 20,
    concurrency: 8,
    pollMs: 20,
    leaseMs: 1_500,
    maxAttempts: 6,
    backoffBaseMs: 10,
    backoffMaxMs: 200,
    haltProbeMs: 100,
    // KillWorker: stop() abandons whatever is in flight at once, as after a SIGKILL; the
    // leases expire and another worker resends.
    shutdownBudgetMs: 0,
    rateLimit: null,
  };
}

/** The request timeout of the reporter's Stripe client (injected latency stays well below). */
export const REQUEST_TIMEOUT_MS = 1_000;

/** A small seeded source of [0, 1) numbers (mulberry32), so a run's draws replay. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Counts the sends a sink has in flight, including the ones a stopped worker abandoned. */
class InFlight {
  private n = 0;
  track<T>(p: Promise<T>): Promise<T> {
    this.n++;
    return p.finally(() => {
      this.n--;
    });
  }
  /** Resolves true once nothing is in flight, false after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.n > 0) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }
}

function tracked(sink: UsageSink, inFlight: InFlight): UsageSink {
  const { send, sendBatch, periodTotal } = sink;
  return {
    ...sink,
    send: (e) => inFlight.track(send(e)),
    ...(sendBatch ? { sendBatch: (es) => inFlight.track(sendBatch(es)) } : {}),
    ...(periodTotal ? { periodTotal: (e) => inFlight.track(periodTotal(e)) } : {}),
  };
}

/** One outbox row at a checkpoint. */
export interface EventRow {
  id: string;
  customerKey: string;
  eventName: string;
  value: number;
  status: string;
  waitReason: string | null;
  code: string | null;
  message: string | null;
  httpStatus: number | null;
}

/** What the sources say at a checkpoint. */
export interface Snapshot {
  rows: EventRow[];
  ledger: Ledger;
  requests: RequestLog["entries"];
  /** Wall clock when taken. */
  nowMs: number;
}

interface Worker {
  id: string;
  reporter: Reporter;
  logger: ReturnType<typeof memoryLogger>;
}

/** Who an Ingest pick names. */
export type Who = { kind: "healthy"; index: number } | { kind: Exclude<Kind, "healthy"> };

/** The real system of one run. */
export class World {
  /** The key the run's Stripe clients use (RevokeKey revokes it). */
  readonly stripeKey = KEY;
  private readonly inFlight = new InFlight();
  private readonly live: Worker[] = [];
  private readonly stopped: Worker[] = [];
  private seq = 0;
  private workerSeq = 0;
  /** Rejections named in the error reports the emulator built, and those it did not name. */
  readonly webhooks = { reports: 0, named: new Set<string>(), unnamed: 0 };
  /** Each customer key's Stripe customer id (null: unlinked). */
  readonly stripeIdOf = new Map<string, string | null>();
  readonly meterName: Record<DeliveryMode, string>;
  /** The misfiled customer's real subscription item (FixItem sets it). */
  private misfiledItem = "";

  private constructor(
    readonly db: Db,
    readonly prefix: string,
    readonly emu: RunningEmulator,
    readonly stripe: Stripe,
    private readonly app: FastifyInstance,
    private readonly relay: Relay,
    private readonly seed: number,
    /** The emulator's request log. */
    readonly log: RequestLog,
  ) {
    this.meterName = {
      meter_events: `${prefix}_me`,
      meter_stream: `${prefix}_ms`,
      usage_records: `${prefix}_ur`,
    };
  }

  /** Opens the run's emulator, route and relay, declares its meters and customers, starts a worker. */
  static async open(db: Db, prefix: string, seed: number): Promise<World> {
    const log = new RequestLog();
    const emu = await startEmulator(
      { port: 0, apiKeys: [KEY], errorReportIntervalMs: 0 },
      { random: seeded(seed), onUsageRequest: log.observe },
    );
    const stripe = createStripeClient({
      secretKey: KEY,
      apiBase: emu.url,
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    const app = await buildApp({ db, config: defaultConfig() });
    await app.register(stripeEventsRoutes, {
      db,
      stripe: createStripeClient({ secretKey: KEY, apiBase: emu.url, timeoutMs: 5_000 }),
      webhookSecret: SECRET,
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const relay = await startRelay(`http://127.0.0.1:${port}${STRIPE_EVENTS_PATH}`, SECRET);
    emu.addEventDestination({ url: relay.url, secret: SECRET });
    const world = new World(db, prefix, emu, stripe, app, relay, seed, log);
    await world.declare();
    // A previous run that failed may have left a circuit open: each run starts with none.
    await db.execute(sql`delete from reporter_circuits`);
    world.startWorker();
    return world;
  }

  private async declare(): Promise<void> {
    const { db, stripe, emu, prefix } = this;
    emu.advanceClock(-PERIOD_BACKDATE_S);
    try {
      for (const mode of ["meter_events", "meter_stream"] as const) {
        const eventName = this.meterName[mode];
        const meter = await stripe.billing.meters.create({
          display_name: eventName,
          event_name: eventName,
          default_aggregation: { formula: "sum" },
        });
        await db.insert(meters).values({ eventName, stripeMeterId: meter.id, deliveryMode: mode });
      }
      const ur = this.meterName.usage_records;
      await db.insert(meters).values({ eventName: ur, deliveryMode: "usage_records" });
      for (let i = 0; i < HEALTHY_CUSTOMERS; i++) {
        const key = `${prefix}-h${i}`;
        const sub = await subscribedItem(stripe, ur);
        await db.insert(customers).values({ key, stripeCustomerId: sub.customer });
        await db
          .insert(subscriptionItems)
          .values({ customerKey: key, eventName: ur, subscriptionItemId: sub.item });
        this.stripeIdOf.set(key, sub.customer);
      }
      const deleted = await stripe.customers.create({ name: `${prefix}-deleted` });
      await db.insert(customers).values({
        key: `${prefix}-deleted`,
        stripeCustomerId: deleted.id,
        status: "deleted",
        deletedAt: new Date(),
      });
      this.stripeIdOf.set(`${prefix}-deleted`, deleted.id);
      await db.insert(customers).values({ key: `${prefix}-unlinked`, stripeCustomerId: null });
      this.stripeIdOf.set(`${prefix}-unlinked`, null);
      // The misfiled customer: live in Stripe, subscribed, but its item set wrong in Meterline.
      const misfiled = await subscribedItem(stripe, ur);
      this.misfiledItem = misfiled.item;
      await db.insert(customers).values({
        key: `${prefix}-misfiled`,
        stripeCustomerId: misfiled.customer,
      });
      await db.insert(subscriptionItems).values({
        customerKey: `${prefix}-misfiled`,
        eventName: ur,
        subscriptionItemId: `si_wrong${prefix}`,
      });
      this.stripeIdOf.set(`${prefix}-misfiled`, misfiled.customer);
      const ghost = `cus_ghost${prefix}`;
      await db.insert(customers).values({ key: `${prefix}-ghost`, stripeCustomerId: ghost });
      await db.insert(subscriptionItems).values({
        customerKey: `${prefix}-ghost`,
        eventName: ur,
        subscriptionItemId: `si_ghost${prefix}`,
      });
      this.stripeIdOf.set(`${prefix}-ghost`, ghost);
    } finally {
      emu.advanceClock(PERIOD_BACKDATE_S);
    }
  }

  /** The customer key a pick names. */
  customerKey(who: Who): string {
    return who.kind === "healthy" ? `${this.prefix}-h${who.index}` : `${this.prefix}-${who.kind}`;
  }

  /** The next event id of the run. */
  nextEventId(): string {
    return `${this.prefix}-e${++this.seq}`;
  }

  /** Writes events to the outbox, as the API does once it validated them. */
  async ingest(events: readonly ModelEvent[]): Promise<void> {
    const occurredAt = new Date(Date.now() - 30_000);
    await insertEvents(
      this.db,
      events.map((e) => ({
        id: e.id,
        customerKey: e.customerKey,
        eventName: this.meterName[e.mode],
        value: e.value,
        occurredAt,
      })),
    );
  }

  /** Starts a worker with all three sinks (each send counted while in flight). */
  startWorker(): void {
    const id = `${this.prefix}-w${++this.workerSeq}`;
    const sinks: Record<DeliveryMode, UsageSink> = {
      meter_events: tracked(fromMeterEvents(this.stripe), this.inFlight),
      meter_stream: tracked(fromMeterStream(this.stripe), this.inFlight),
      usage_records: tracked(fromUsageRecords(this.stripe), this.inFlight),
    };
    const logger = memoryLogger();
    const reporter = startReporter({
      db: this.db,
      settings: modelSettings(id),
      sinkFor: (mode) => sinks[mode],
      logger: logger as ReporterLogger,
      random: seeded(this.seed + this.workerSeq),
      probeAccount: fromMetersList(this.stripe),
    });
    this.live.push({ id, reporter, logger });
  }

  /** How many workers run. */
  get workers(): number {
    return this.live.length;
  }

  /** Stops worker `index` abandoning its in-flight sends (a budget of 0): a kill, in-process. */
  async killWorker(index: number): Promise<void> {
    const [w] = this.live.splice(index, 1);
    if (!w) return;
    await w.reporter.stop();
    this.stopped.push(w);
  }

  /** Sets faults on every usage endpoint (`global`) or on one group. */
  setFaults(target: "global" | (typeof ENDPOINT_GROUPS)[number], f: object): void {
    if (target === "global") this.emu.setFaults(f);
    else this.emu.setEndpointFaults(target, f);
  }

  /** No faults anywhere. */
  clearFaults(): void {
    this.emu.setFaults({ ...NO_FAULTS });
    for (const g of ENDPOINT_GROUPS) this.emu.clearEndpointFaults(g);
  }

  /** An operator sets the misfiled customer's usage records item right (PUT …/subscription_items). */
  async fixItem(): Promise<void> {
    await this.db.execute(
      sql`update subscription_items set subscription_item_id = ${this.misfiledItem},
            updated_at = now()
          where customer_key = ${`${this.prefix}-misfiled`}`,
    );
  }

  /**
   * Lets `hours` pass for the outbox and for Stripe at once (with no worker running: see
   * JumpClock), as test/reporter/time-travel.ts does, but for occurred_at: every other stored time of every usage event moves back, and
   * Stripe's clock forward. occurred_at is the event's own time, what Stripe is told; a day
   * passing never changes it, and moving it would change a resend's parameters under the same
   * Idempotency-Key (usage records), which no real resend does.
   */
  async jump(hours: number): Promise<void> {
    const columns = await rows<{ name: string }>(
      this.db,
      sql`select column_name as name from information_schema.columns
          where table_name = 'usage_events' and table_schema = current_schema()
            and data_type = 'timestamp with time zone' and column_name <> 'occurred_at'`,
    );
    const shifts = columns.map(
      (c) =>
        sql`${sql.identifier(c.name)} = ${sql.identifier(c.name)} - ${hours}::float8 * interval '1 hour'`,
    );
    await this.db.execute(sql`update usage_events set ${sql.join(shifts, sql`, `)}`);
    this.emu.advanceClock(Math.round(hours * 3600));
  }

  /**
   * Has the emulator build and deliver its waiting error reports (through the relay), after
   * delivering again what the route did not take before.
   */
  async deliverWebhooks(): Promise<void> {
    await this.relay.redeliver();
    const flushed = await this.emu.flushErrorReports();
    for (const event of flushed.events) {
      this.webhooks.reports++;
      const report = readAsyncReport(event as Parameters<typeof readAsyncReport>[0]);
      for (const n of report.named) this.webhooks.named.add(n.identifier);
      this.webhooks.unnamed += report.unnamed;
    }
  }

  /** Notifications billing sync has not taken yet. */
  undeliveredWebhooks(): number {
    return this.relay.undelivered();
  }

  /**
   * Pending events of the run that are not simply waiting for an unlinked customer inside its
   * hold: what the workers still have to settle.
   */
  async unsettled(): Promise<Array<{ id: string; reason: string | null }>> {
    const hold = defaultConfig().worker.unlinkedHoldMs;
    return rows<{ id: string; reason: string | null }>(
      this.db,
      sql`select id, wait_reason as reason from usage_events
          where id like ${`${this.prefix}-%`} and status = 'pending'
            and not (coalesce(wait_reason, '') = 'customer_unlinked'
                     and received_at > now() - ${hold}::float8 * interval '1 millisecond')
          order by id`,
    );
  }

  /** Open circuits (reporting halted). */
  async openCircuits(): Promise<string[]> {
    const open = await rows<{ scope: string }>(
      this.db,
      sql`select scope from reporter_circuits order by scope`,
    );
    return open.map((c) => c.scope);
  }

  /** Lets the workers run until nothing is left to settle, or `ms` passed. */
  async runUntilQuiet(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await this.unsettled()).length === 0) return;
      await sleep(50);
    }
  }

  /** Waits until nothing is left to settle and no circuit is open; false after `ms`. */
  async drain(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if ((await this.unsettled()).length === 0 && (await this.openCircuits()).length === 0) {
        return true;
      }
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
  }

  /** Kills every worker and waits until no send is in flight (so Stripe's state is final). */
  async stopAll(): Promise<boolean> {
    while (this.live.length > 0) await this.killWorker(0);
    const idle = await this.inFlight.idle(10_000);
    // A request's close (which logs it) follows its answer by a tick.
    await sleep(50);
    return idle;
  }

  /** An operator's `dlq retry` of each failed event of the run, one at a time. */
  async operatorRetry(ids: readonly string[], notInStripe = false): Promise<string[]> {
    const changed: string[] = [];
    for (const id of ids) {
      const outcome = await retryDeadLetters(this.db, {
        target: { ids: [id] },
        dryRun: false,
        limit: 10,
        actor: 'key "model"',
        dedupWindowMs: defaultConfig().worker.dedupWindowMs,
        timestampMarginMs: defaultConfig().worker.timestampMarginMs,
        notInStripe,
      });
      changed.push(...outcome.changed);
    }
    return changed;
  }

  /** An operator's `dlq resolve --delivered` of `ids`. */
  async operatorResolve(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const outcome = await resolveDeadLetters(this.db, {
      target: { ids: [...ids] },
      dryRun: false,
      limit: ids.length,
      actor: 'key "model"',
    });
    return outcome.changed;
  }

  /** Ids of the run's failed events. */
  async failedIds(): Promise<string[]> {
    const failed = await rows<{ id: string }>(
      this.db,
      sql`select id from usage_events where id like ${`${this.prefix}-%`} and status = 'failed'
          order by id`,
    );
    return failed.map((r) => r.id);
  }

  /** The outbox rows of the run, the ledger and the request log, now. */
  async snapshot(): Promise<Snapshot> {
    const found = await rows<EventRow & Record<string, unknown>>(
      this.db,
      sql`select id, customer_key as "customerKey", event_name as "eventName",
            value::float8 as value, status, wait_reason as "waitReason",
            last_error_code as code, last_error_message as message,
            last_http_status as "httpStatus"
          from usage_events where id like ${`${this.prefix}-%`} order by id`,
    );
    return {
      rows: found.map((r) => ({ ...r, value: Number(r.value) })),
      ledger: this.emu.ledger(),
      requests: [...this.log.entries],
      nowMs: Date.now(),
    };
  }

  /** Every attempt row of `ids`, one line each: what the workers recorded (for a failure's message). */
  async trace(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const found = await rows<{
      event_id: string;
      attempt: number;
      worker: string;
      outcome: string;
      http_status: number | null;
      stripe_code: string | null;
      message: string | null;
    }>(
      this.db,
      sql`select event_id, attempt, worker, outcome, http_status, stripe_code, message
          from ${ATTEMPT_HISTORY} a
          where event_id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
          order by event_id, id`,
    );
    return found.map(
      (a) =>
        `${a.event_id} #${a.attempt} ${a.worker} ${a.outcome} ${a.http_status ?? "-"} ${a.stripe_code ?? "-"}: ${(a.message ?? "").slice(0, 600)}`,
    );
  }

  /** The requests the emulator logged for `ids`, one line each. */
  requestsOf(ids: readonly string[]): string[] {
    const wanted = new Set(ids);
    return this.log.entries
      .filter((r) => r.ids.some((id) => wanted.has(id)))
      .map(
        (r) =>
          `${r.ids.filter((id) => wanted.has(id)).join(",")} ${r.group} at ${new Date(r.atMs).toISOString()} → ${r.status} fault=${r.fault} applied=${r.applied} answered=${r.answered} replayed=${r.replayed}`,
      );
  }

  /** The error lines every worker logged, for a failing run's message. */
  errorLines(max = 10): string[] {
    return [...this.stopped, ...this.live]
      .flatMap((w) =>
        w.logger.lines
          .filter(([level]) => level === "error")
          .map(([, obj, msg]) => `${w.id}: ${msg} ${JSON.stringify(obj).slice(0, 300)}`),
      )
      .slice(0, max);
  }

  /** Stops everything of the run and removes its events from the shared database. */
  async close(): Promise<void> {
    await this.stopAll().catch(() => {});
    await this.relay.close().catch(() => {});
    await this.app.close().catch(() => {});
    await this.emu.close().catch(() => {});
    const like = `${this.prefix}-%`;
    await this.db.execute(sql`delete from usage_event_attempts where event_id like ${like}`);
    await this.db.execute(sql`delete from usage_events where id like ${like}`);
    await this.db.execute(sql`delete from reporter_circuits`);
  }
}
