import { coerceError } from "../lib/errors.ts";
import type { DeliveryQueue, SendUnit } from "./delivery-queue.ts";
import type { ReporterLogger } from "./logger.ts";
import type { SendLimits } from "./send-limits.ts";
import type { ThrottlePause } from "./throttle-pause.ts";

/** What the dispatcher needs from its worker. */
export interface DispatcherDeps {
  queue: DeliveryQueue;
  limits: SendLimits;
  pause: ThrottlePause;
  /** Requests in flight at most (METERLINE_CONCURRENCY). */
  concurrency: number;
  /** False while stopping or halted: nothing new leaves. */
  open(): boolean;
  /** Makes one request and settles its events (never throws by contract). */
  send(unit: SendUnit): Promise<unknown>;
  /** A request finished: there may be room to claim. */
  finished(): void;
  logger: ReporterLogger;
}

/**
 * Starts requests while there is room: `concurrency` in flight, one per (customer, meter) key
 * (the queue), a token of every rate limit the request is under, no throttle pause, no halt.
 * The tokens are checked BEFORE a request is taken from the queue, so a request never holds a
 * slot (or its keys) while it waits for one, and the requests of a sink whose endpoint has no
 * token yet are passed over. When only tokens are missing, one timer wakes it when the first
 * is due: no sleeper per request.
 */
export class Dispatcher {
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly d: DispatcherDeps) {}

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Starts what may start now; schedules itself when tokens are what is missing. */
  run(): void {
    const { queue, limits, pause, concurrency } = this.d;
    while (this.d.open() && this.active < concurrency) {
      if (pause.holds(() => this.run())) return;
      const now = Date.now();
      const accountWait = limits.accountWait(now);
      if (accountWait > 0) {
        this.wakeIn(accountWait);
        return;
      }
      let soonest = Number.POSITIVE_INFINITY;
      const unit = queue.take((sink) => {
        const wait = limits.wait(sink, now);
        if (wait > 0) soonest = Math.min(soonest, wait);
        return wait === 0;
      });
      if (!unit) {
        if (soonest < Number.POSITIVE_INFINITY) this.wakeIn(soonest);
        return;
      }
      const [first] = unit.items;
      if (first) limits.take(first.sink, now);
      this.active++;
      void this.d
        .send(unit)
        .catch((err) => this.d.logger.error({ err: coerceError(err) }, "request failed"))
        .finally(() => {
          this.active--;
          queue.done(unit);
          this.d.finished();
          this.run();
        });
    }
  }

  /** Cancels the pending wake-up (stop). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private wakeIn(ms: number): void {
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.run();
    }, ms);
  }
}
