import { coerceError } from "../lib/errors.ts";
import type { ClaimedEvent } from "../outbox/claim.ts";
import type { WaitReason } from "../outbox/reasons.ts";
import { release } from "../outbox/release.ts";
import type { SettleRow } from "../outbox/settle.ts";
import type { SendItem } from "./admit.ts";
import { haltWait, probeTurn } from "./circuit-actions.ts";
import { CircuitGate } from "./circuit-gate.ts";
import { CircuitReactor } from "./circuit-reactor.ts";
import { claimSize } from "./claim-size.ts";
import { Claimer } from "./claimer.ts";
import type { Outcome } from "./classify.ts";
import { DeliveryQueue, isBatched } from "./delivery-queue.ts";
import { Dispatcher } from "./dispatcher.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { HeldLeases } from "./held-leases.ts";
import { Judge } from "./judge.ts";
import { markLingerMs, settleLingerMs } from "./linger.ts";
import { noReporterMetrics } from "./reporter-metrics.ts";
import type { Reporter, ReporterDeps } from "./reporter-types.ts";
import { type RequestContext, runRequest } from "./request.ts";
import { SendLimits } from "./send-limits.ts";
import { SentMarker } from "./sent-marker.ts";
import { SettleBuffer } from "./settle-buffer.ts";
import { idleWithin, Signal } from "./signal.ts";
import { SuspectWatch, takeSuspect } from "./suspects.ts";
import { createSystemicDetector } from "./systemic-detector.ts";
import { ThrottlePause } from "./throttle-pause.ts";
import { startWorkerRegistry } from "./worker-registry.ts";

export type { Reporter, ReporterDeps, ReporterStatus } from "./reporter-types.ts";

/**
 * Starts the reporter loop: claim a batch → load its customers and meters → pre-flight → send
 * (up to `concurrency` in flight, one per customer and meter) → classify → decide → settle.
 */
export function startReporter(deps: ReporterDeps): Reporter {
  const { db, settings, logger } = deps;
  const owner = settings.id;
  const random = deps.random ?? Math.random;
  const metrics = deps.metrics ?? noReporterMetrics;
  const systemic = deps.systemic ?? createSystemicDetector(settings);

  /** Every event whose lease we hold: queued, in flight, or waiting for its settle write. */
  const held = new HeldLeases();
  const queue = new DeliveryQueue();
  const buffer = new SettleBuffer(
    db,
    owner,
    logger,
    settings.pollMs,
    (row, settled) => {
      if (settled) metrics.outcome(held.modeOf(row.id), row);
      held.forget(row);
      progress.fire();
    },
    { lingerMs: settleLingerMs(settings), onQueued: (row) => held.markSettling(row) },
  );
  const marker = new SentMarker(db, owner, markLingerMs(settings));
  /** Fired on stop and halt: interrupts every sleep. */
  const interrupt = new Signal();
  /** Fired when a send or a settle finishes: there may be room to claim. */
  const progress = new Signal();
  let stopping = false;
  /** The shared circuits (reporter_circuits): whether any worker may send. */
  const gate = new CircuitGate(db, owner, settings.haltProbeMs, settings.pollMs, logger);
  const judge = new Judge(settings, systemic, random);
  /** Whether the last claim went to the stream: then claims are whole requests' worth. */
  let streaming = false;
  /** A suspect event being sent alone (claim.ts): nothing else is claimed meanwhile. */
  let suspect: string | null = null;
  /** Set when stop() spent its budget: answers that still arrive are not written. */
  let abandoned = false;
  const bounds = { baseMs: settings.backoffBaseMs, maxMs: settings.backoffMaxMs };
  const pause = new ThrottlePause(bounds, random, logger);
  let drainWaiters: Array<() => void> = [];

  const claimer = new Claimer({ db, owner, settings, sinkFor: deps.sinkFor, held, buffer, logger });
  const now = () => claimer.now();
  const claimBatch = (limit: number, suspects = false) => claimer.claim(limit, suspects);
  const prepare = (events: ClaimedEvent[]) => claimer.prepare(events);

  /** Sends one request (one event, or a stream batch) and settles each of its events. Never throws. */
  async function send(items: SendItem[], probe: boolean): Promise<Outcome | null> {
    const verdict = await runRequest(request, items);
    const sink = items[0]?.sink;
    if (verdict && sink) await reactor.react(verdict, probe, sink);
    return verdict?.outcome ?? null;
  }

  /** The account's rate limit and the endpoints' own, shared by this worker's requests. */
  const limits = new SendLimits(deps.limiter);

  const request: RequestContext = {
    db,
    judge,
    buffer,
    marker,
    held,
    logger,
    now,
    abandoned: () => abandoned,
    metrics,
    haltedScope: () => gate.halted?.scope ?? null,
    giveBack: (items) => giveBack(items),
  };

  const reactor = new CircuitReactor({
    db,
    owner,
    settings,
    gate,
    buffer,
    logger,
    limits,
    pause,
    halted(waitReason) {
      interrupt.fire();
      // Give back what was claimed but not sent: no attempt counted, claimable by the probe.
      void giveBack(queue.drain(), waitReason);
    },
    resumed() {
      interrupt.fire();
      dispatch();
    },
  });

  const dispatcher = new Dispatcher({
    queue,
    limits,
    pause,
    concurrency: settings.concurrency,
    open: () => !stopping && !gate.halted,
    send: (unit) => send(unit.items, false),
    finished: () => progress.fire(),
    logger,
  });
  /** Starts sends while there is room (dispatcher.ts). */
  const dispatch = () => dispatcher.run();

  async function giveBack(items: SendItem[], waitReason?: WaitReason): Promise<void> {
    if (items.length === 0) return;
    const refs = items.map((i) => i.event);
    try {
      await release(db, owner, refs, waitReason ? { waitReason } : {});
    } catch (err) {
      // The leases expire by themselves; nothing is lost, only delayed.
      logger.error({ err: coerceError(err), events: refs.length }, "could not release leases");
    }
    for (const e of refs) held.forget(e);
    progress.fire();
  }

  /** While halted: one probe turn per poll (circuit-actions.ts). */
  async function probe(): Promise<void> {
    await interrupt.wait(settings.pollMs);
    const resumed = await probeTurn({
      gate,
      claimOne: async () => {
        const events = await claimBatch(1);
        return events.length === 0 ? null : (await prepare(events))[0];
      },
      sendProbe: (item) => send([item], true),
      probeAccount: deps.probeAccount,
      stopping: () => stopping,
    });
    if (resumed) dispatch();
  }

  const suspects = new SuspectWatch(db, settings.pollMs);
  const suspectContext = {
    claim: async () => (await claimBatch(1, true))[0],
    settle: (row: SettleRow) => buffer.push(row),
    crashLoopClaims: settings.crashLoopClaims,
    logger,
    now,
  };

  async function loop(): Promise<void> {
    while (!stopping) {
      try {
        const change = await gate.sync();
        if (change === "halted") await giveBack(queue.drain(), haltWait(gate.halted));
        if (change === "resumed") dispatch();
        if (gate.halted) {
          await probe();
          continue;
        }
        // A suspect goes alone: claim nothing else until it is settled.
        if (suspect !== null && held.has(suspect)) {
          await Promise.race([progress.wait(settings.pollMs), interrupt.wait(settings.pollMs)]);
          continue;
        }
        suspect = null;
        // A suspect waits: claim nothing new, let what is held drain, then send it alone. Under
        // a backlog the worker never runs dry by itself, and the suspect would starve.
        if (await suspects.due()) {
          if (held.size > 0) {
            await Promise.race([progress.wait(settings.pollMs), interrupt.wait(settings.pollMs)]);
            continue;
          }
        }
        const taken = held.size === 0 ? await takeSuspect(suspectContext) : null;
        if (taken === null) suspects.none();
        if (taken === "dead") continue;
        if (taken) {
          suspect = taken.id;
          for (const item of await prepare([taken])) enqueue(item);
          dispatch();
          continue;
        }
        // One-event requests hold a batch; the stream several requests' worth; either claims in
        // batches, not one at a time (claim-size.ts). No room: sleep until a request's end or a
        // settle makes some (not at every one of them), or a poll later.
        const room = roomToClaim();
        if (room === 0) {
          const some = () => roomToClaim() > 0;
          await Promise.race([
            progress.wait(settings.pollMs, some),
            interrupt.wait(settings.pollMs),
          ]);
          continue;
        }
        const events = await claimBatch(room);
        if (events.length > 0) {
          const items = await prepare(events);
          streaming = items.length > 0 && items.every(isBatched);
          // A halt that came in meanwhile: these go back at once, like the rest of the queue.
          if (gate.halted) await giveBack(items, haltWait(gate.halted));
          else for (const item of items) enqueue(item);
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

  /** How many events to claim now (claim-size.ts); 0: wait for room. */
  function roomToClaim(): number {
    const sending = queue.singlesInFlight;
    return claimSize({ ...held.unsettled(), sending }, settings, streaming);
  }

  /** Queues an item to send; a stream event is held apart (claim-size.ts). */
  function enqueue(item: SendItem): void {
    held.markMode(item.event.id, item.sink.mode);
    if (isBatched(item)) held.markBatched(item.event.id);
    queue.push(item);
  }

  function notifyDrained(): void {
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const w of waiters) w();
  }

  const stopHeartbeat = startHeartbeat(db, owner, settings.leaseMs, held, logger);
  // The worker's own liveness (workers table): /readyz, /v1/workers and trace read it.
  const registry = startWorkerRegistry({
    db,
    id: owner,
    leaseMs: settings.leaseMs,
    inFlight: () => dispatcher.inFlight,
    logger,
    onLiveWorkers: (n) => limits.setShare(n),
  });

  metrics.watch({ inFlight: () => dispatcher.inFlight, held: () => held.size });
  // No worker field: the process logger's base carries it (logging/logger.ts).
  logger.info({ batchSize: settings.batchSize }, "reporter started");
  const running = loop();
  let stopped: Promise<void> | null = null;

  return {
    status: () => ({ halted: gate.halted }),
    drained: () => new Promise((resolve) => drainWaiters.push(resolve)),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        interrupt.fire();
        await running;
        pause.clear();
        dispatcher.stop();
        // Never sent: give them back at once, so another worker need not wait for the lease.
        await giveBack(queue.drain());
        // In-flight sends get the budget; then they are abandoned: their leases expire and
        // another worker resends them, which their identifier makes harmless.
        const budget = settings.shutdownBudgetMs;
        if (!(await idleWithin(progress, () => dispatcher.inFlight > 0, budget, settings.pollMs))) {
          abandoned = true;
          logger.warn(
            { inFlight: dispatcher.inFlight },
            "shutdown budget spent: abandoning in-flight sends",
          );
        }
        await buffer.flush(true);
        stopHeartbeat();
        await registry.stop();
        notifyDrained();
        logger.info({}, "reporter stopped");
      })();
      return stopped;
    },
  };
}
