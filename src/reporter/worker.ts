import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import type { DeliveryMode } from "../db/schema/meters.ts";
import { coerceError } from "../lib/errors.ts";
import { type ClaimedEvent, claim } from "../outbox/claim.ts";
import { release } from "../outbox/release.ts";
import { admit, type SendItem } from "./admit.ts";
import { backoffMs } from "./backoff.ts";
import { classify, type Outcome } from "./classify.ts";
import { decide, describeAnswer } from "./decide.ts";
import { startHeartbeat } from "./heartbeat.ts";
import type { ReporterLogger } from "./logger.ts";
import { SendQueue } from "./send-queue.ts";
import { SettleBuffer } from "./settle-buffer.ts";
import { rowFromSettlement } from "./settle-rows.ts";
import { Signal } from "./signal.ts";
import type { SendResult, UsageSink } from "./sinks/port.ts";
import { everyRejectionIsPoison, type SystemicGuard } from "./systemic.ts";

/** What the reporter needs from the process that runs it. */
export interface ReporterDeps {
  db: Db;
  settings: Config["worker"];
  /** The adapter for a meter's delivery mode; undefined when this process cannot send it. */
  sinkFor: (mode: DeliveryMode) => UsageSink | undefined;
  logger: ReporterLogger;
  /** Cross-customer "systemic" detection; default: every rejection is the event's own. */
  systemic?: SystemicGuard;
  /** Source of jitter; default Math.random. */
  random?: () => number;
}

/** Why the reporter is not sending, when it is not. */
export interface ReporterStatus {
  /** Set while the account is halted (401/403, account-level error): why, and since when. */
  halted: null | { reason: string; since: Date };
}

/** A running reporter loop. */
export interface Reporter {
  /** Stops claiming, lets in-flight sends finish and settle, gives back unsent leases. */
  stop(): Promise<void>;
  /** Whether it is halted and why (the app's /readyz shows it). */
  status(): ReporterStatus;
  /** Resolves the next time nothing is due and nothing is held (demo, tests, `meterline` CLI). */
  drained(): Promise<void>;
}

/**
 * Starts the reporter loop: claim a batch → load its customers and meters → pre-flight → send
 * (up to `concurrency` in flight, one per customer and meter) → classify → decide → settle.
 */
export function startReporter(deps: ReporterDeps): Reporter {
  const { db, settings, logger } = deps;
  const owner = settings.id;
  const random = deps.random ?? Math.random;
  const systemic = deps.systemic ?? everyRejectionIsPoison;
  const bounds = { baseMs: settings.backoffBaseMs, maxMs: settings.backoffMaxMs };

  /** Every event whose lease we hold: queued, in flight, or waiting for its settle write. */
  const held = new Map<string, ClaimedEvent>();
  const queue = new SendQueue<SendItem>();
  const buffer = new SettleBuffer(db, owner, logger, settings.pollMs, (row) => {
    held.delete(row.id);
    progress.fire();
  });
  /** Fired on stop and halt: interrupts every sleep. */
  const interrupt = new Signal();
  /** Fired when a send or a settle finishes: there may be room to claim. */
  const progress = new Signal();
  let active = 0;
  let stopping = false;
  let halted: ReporterStatus["halted"] = null;
  let throttleStreak = 0;
  let pausedUntil = 0;
  let pauseTimer: NodeJS.Timeout | null = null;
  /** Database clock minus ours, refreshed by every claim: we judge time as the leases do. */
  let clockOffsetMs = 0;
  let drainWaiters: Array<() => void> = [];

  const now = () => new Date(Date.now() + clockOffsetMs);

  async function claimBatch(limit: number): Promise<ClaimedEvent[]> {
    const { events, dbNow } = await claim(db, { owner, leaseMs: settings.leaseMs, limit });
    if (dbNow) clockOffsetMs = dbNow.getTime() - Date.now();
    for (const e of events) held.set(e.id, e);
    return events;
  }

  /** Pre-flights a claimed batch: settles what cannot be sent now, returns what can. */
  async function prepare(events: ClaimedEvent[]): Promise<SendItem[]> {
    const admitted = await admit(db, events, now(), settings, deps.sinkFor);
    for (const f of admitted.failed) {
      logger.warn({ event: f.id, code: f.code }, "dead-lettered by pre-flight");
    }
    for (const row of admitted.settle) buffer.push(row);
    return admitted.send;
  }

  /** Sends one event and settles what came back. Never throws. */
  async function send(item: SendItem, probe: boolean): Promise<Outcome> {
    const startedAt = now();
    let result: SendResult;
    try {
      result = await item.sink.send(item.outbound);
    } catch (err) {
      // Sinks describe every answer; a throw is a bug, and the request may have gone out.
      result = {
        kind: "network",
        message: `sink threw: ${coerceError(err).message}`,
        timeout: false,
      };
    }
    let outcome = classify(result);
    if (outcome.kind === "rejected" && systemic.judge(outcome, item.event, now()) === "systemic") {
      outcome = { kind: "halt", rule: `systemic: ${outcome.rule}`, answer: outcome.answer };
    }
    const settlement = decide(item.event, outcome, now(), settings, random);
    buffer.push(rowFromSettlement(item.event, settlement, startedAt));
    if (settlement.status === "failed") {
      logger.warn(
        { event: item.event.id, code: settlement.code, rule: outcome.rule },
        "dead-lettered",
      );
    }
    react(outcome, probe);
    return outcome;
  }

  /** What one outcome means for the whole worker: halt, resume, or slow down. */
  function react(outcome: Outcome, probe: boolean): void {
    if (outcome.kind === "halt") {
      if (!halted) enterHalt(outcome);
      return;
    }
    if (probe && halted) {
      logger.info(
        { haltedSince: halted.since, rule: outcome.rule },
        "account works again: resumed",
      );
      halted = null;
      interrupt.fire();
      dispatch();
    }
    if (outcome.kind === "throttled") {
      // Slow the whole worker down, more on every throttle in a row (a crude shared limiter).
      throttleStreak++;
      pausedUntil = Date.now() + backoffMs(throttleStreak, bounds, random);
      logger.warn({ streak: throttleStreak, rule: outcome.rule }, "throttled by Stripe: pausing");
    } else {
      throttleStreak = 0;
    }
  }

  function enterHalt(outcome: Extract<Outcome, { kind: "halt" }>): void {
    const reason = `${outcome.rule}: Stripe answered ${describeAnswer(outcome.answer)}. Nothing is failed or counted meanwhile; fix the key or the account, then reporting resumes by itself.`;
    halted = { reason, since: now() };
    logger.error(
      { rule: outcome.rule, probeMs: settings.haltProbeMs },
      `reporting halted: ${reason}`,
    );
    interrupt.fire();
    // Give back what was claimed but not sent: no attempt counted, claimable by the probe.
    void giveBack(queue.drain(), "account_halted");
  }

  async function giveBack(items: SendItem[], waitReason?: string): Promise<void> {
    if (items.length === 0) return;
    const refs = items.map((i) => i.event);
    try {
      await release(db, owner, refs, waitReason ? { waitReason } : {});
    } catch (err) {
      // The leases expire by themselves; nothing is lost, only delayed.
      logger.error({ err: coerceError(err), events: refs.length }, "could not release leases");
    }
    for (const e of refs) held.delete(e.id);
    progress.fire();
  }

  /** Starts sends while there is room: `concurrency` in flight, one per key, none when halted. */
  function dispatch(): void {
    while (!stopping && !halted && active < settings.concurrency) {
      const wait = pausedUntil - Date.now();
      if (wait > 0) {
        pauseTimer ??= setTimeout(() => {
          pauseTimer = null;
          dispatch();
        }, wait);
        return;
      }
      const item = queue.take();
      if (!item) return;
      active++;
      void send(item, false).finally(() => {
        active--;
        queue.done(item.key);
        progress.fire();
        dispatch();
      });
    }
  }

  /** While halted: every haltProbeMs, send one event; resume when the answer is not a halt. */
  async function probe(): Promise<void> {
    await interrupt.wait(settings.haltProbeMs);
    // Pre-flight may settle the claimed event without a call: then try the next one.
    for (let tries = 0; tries < 10 && !stopping && halted; tries++) {
      const events = await claimBatch(1);
      if (events.length === 0) return; // nothing to probe with: stay halted, look again later
      const [item] = await prepare(events);
      if (!item) continue;
      await send(item, true);
      return;
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        if (halted) {
          await probe();
          continue;
        }
        const room = settings.batchSize - held.size;
        // Claim in batches: wait until half a batch has room rather than claim one at a time.
        if (held.size > 0 && room < Math.ceil(settings.batchSize / 2)) {
          await Promise.race([progress.wait(settings.pollMs), interrupt.wait(settings.pollMs)]);
          continue;
        }
        const events = await claimBatch(room);
        if (events.length > 0) {
          const items = await prepare(events);
          // A halt that came in meanwhile: these go back at once, like the rest of the queue.
          if (halted) await giveBack(items, "account_halted");
          else for (const item of items) queue.push(item);
          dispatch();
        }
        if (events.length < room) {
          if (events.length === 0 && held.size === 0 && !buffer.busy) notifyDrained();
          // The queue has nothing more due: poll again later (stop and halt cut this short).
          await interrupt.wait(settings.pollMs);
        }
      } catch (err) {
        logger.error({ err: coerceError(err) }, "reporter loop failed; retrying");
        await interrupt.wait(settings.pollMs);
      }
    }
  }

  function notifyDrained(): void {
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const w of waiters) w();
  }

  const stopHeartbeat = startHeartbeat(db, owner, settings.leaseMs, () => [...held.keys()], logger);

  logger.info({ worker: owner, batchSize: settings.batchSize }, "reporter started");
  const running = loop();
  let stopped: Promise<void> | null = null;

  return {
    status: () => ({ halted }),
    drained: () => new Promise((resolve) => drainWaiters.push(resolve)),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        interrupt.fire();
        await running;
        if (pauseTimer) clearTimeout(pauseTimer);
        // Never sent: give them back at once, so another worker need not wait for the lease.
        await giveBack(queue.drain());
        while (active > 0) await progress.wait(settings.pollMs);
        await buffer.flush(true);
        stopHeartbeat();
        notifyDrained();
        logger.info({ worker: owner }, "reporter stopped");
      })();
      return stopped;
    },
  };
}
