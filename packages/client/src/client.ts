import { judge, type Verdict } from "./answer.ts";
import { type BackoffOptions, backoffMs, parseRetryAfter } from "./backoff.ts";
import {
  EventRejectedError,
  type MeterlineError,
  RequestRefusedError,
  TransientError,
} from "./errors.ts";
import type { TrackInput, WireEvent } from "./types.ts";
import { uuidv7 } from "./uuidv7.ts";

/** How the client is set up. Only `url` and `apiKey` are required. */
export interface ClientOptions {
  /** The Meterline API, e.g. "https://meterline.internal:3000". */
  url: string;
  /** An API key of the ingest (or admin) role. */
  apiKey: string;
  /** Events per request, 1 to 1,000 (the server's limit). Default 500. */
  maxBatchSize?: number;
  /** A partial batch is sent after this long, ms. Default 1,000. */
  flushIntervalMs?: number;
  /** Events held in memory at most (queued and in flight). Default 10,000. */
  maxQueued?: number;
  /**
   * When the queue is full: "wait" (default) makes `track` resolve only once there is room, so
   * an awaiting producer slows down; "drop" drops the event and counts it in `stats.dropped`.
   */
  whenFull?: "wait" | "drop";
  /** Retry timing for network errors, timeouts, 5xx and 429. Default 200 ms doubling to 30 s. */
  backoff?: Partial<BackoffOptions>;
  /** One request's time limit, ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Every error: events refused for good, requests refused or failed (then retried). */
  onError?: (error: MeterlineError) => void;
  /** The fetch to use; default the runtime's. */
  fetch?: typeof fetch;
}

/** What the client has done so far. */
export interface ClientStats {
  /** Events held: queued or in flight. */
  queued: number;
  /** Events the server stored (or already had: a retry of a stored batch counts once). */
  sent: number;
  /** Events refused for good (reported through onError as EventRejectedError). */
  rejected: number;
  /** Events dropped because the queue was full (whenFull: "drop"). */
  dropped: number;
  /** Requests sent again after a transient failure or a refusal of the whole request. */
  retries: number;
}

/** What `close` leaves: events it could not deliver before its time limit. */
export interface CloseResult {
  stats: ClientStats;
  /** Events neither stored nor refused: persist them and send them again later (same ids). */
  unsent: WireEvent[];
}

const MAX_BATCH = 1000;

/**
 * Sends usage events to Meterline in batches. `track` returns at once; a background loop sends
 * one batch at a time, retrying transient failures with the same event ids (the server stores
 * an id once, so a retry after a lost answer is harmless), and drops only events the server
 * refuses by name. `flush` waits until everything tracked so far is settled; `close` flushes
 * and stops.
 */
export class MeterlineClient {
  readonly #url: string;
  readonly #auth: string;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #maxQueued: number;
  readonly #whenFull: "wait" | "drop";
  readonly #backoff: BackoffOptions;
  readonly #timeoutMs: number;
  readonly #onError: (error: MeterlineError) => void;
  readonly #fetch: typeof fetch;

  #queue: WireEvent[] = [];
  #inFlight: WireEvent[] = [];
  #sending = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  #stopped = false;
  #abort: AbortController | null = null;
  /** Resolved when the queue has room again (whenFull: "wait"). */
  #roomWaiters: Array<() => void> = [];
  /** flush() calls waiting for the events tracked before them (events settle in order). */
  #flushWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  /** Events queued so far, and events stored or refused so far: a flush waits for the first. */
  #tracked = 0;
  #settled = 0;
  /** A partial batch is due (interval passed, or a flush asked). */
  #partialDue = false;
  /** Cancels a backoff wait (close's time limit). */
  #wake: (() => void) | null = null;
  #stats = { sent: 0, rejected: 0, dropped: 0, retries: 0 };

  constructor(options: ClientOptions) {
    if (!options.url) throw new TypeError("MeterlineClient: url is required");
    if (!options.apiKey) throw new TypeError("MeterlineClient: apiKey is required");
    this.#url = `${options.url.replace(/\/+$/, "")}/v1/events`;
    this.#auth = `Bearer ${options.apiKey}`;
    this.#batchSize = Math.min(MAX_BATCH, Math.max(1, Math.floor(options.maxBatchSize ?? 500)));
    this.#intervalMs = Math.max(0, options.flushIntervalMs ?? 1000);
    this.#maxQueued = Math.max(this.#batchSize, options.maxQueued ?? 10_000);
    this.#whenFull = options.whenFull ?? "wait";
    this.#backoff = { baseMs: 200, maxMs: 30_000, ...options.backoff };
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#onError = options.onError ?? (() => {});
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** What the client has done so far. */
  get stats(): ClientStats {
    return { ...this.#stats, queued: this.#held() };
  }

  /**
   * Queues one event and returns at once. The event gets its id and time now (when not given),
   * and keeps them across every retry. Resolves when queued: at once unless the queue is full
   * with whenFull "wait". Rejects only after `close`.
   */
  async track(input: TrackInput): Promise<void> {
    if (this.#closed) throw new Error("MeterlineClient: track after close");
    const event = toWire(input);
    while (this.#held() >= this.#maxQueued) {
      if (this.#whenFull === "drop") {
        this.#stats.dropped++;
        return;
      }
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
      if (this.#closed) throw new Error("MeterlineClient: closed while waiting for room");
    }
    this.#queue.push(event);
    this.#tracked++;
    if (this.#queue.length >= this.#batchSize) this.#kick();
    else this.#arm();
  }

  /** Resolves once everything tracked before the call is stored or refused (retries included). */
  async flush(): Promise<void> {
    const upTo = this.#tracked;
    if (this.#settled >= upTo) return;
    const done = new Promise<void>((resolve) => this.#flushWaiters.push({ upTo, resolve }));
    this.#kick(true);
    await done;
  }

  /**
   * Flushes, then stops. After `timeoutMs` (default 30 s) it stops anyway and returns the events
   * it could not deliver, so that none is lost silently.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<CloseResult> {
    this.#closed = true;
    for (const wake of this.#roomWaiters.splice(0)) wake();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs ?? 30_000);
    });
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#abort?.abort();
    this.#wake?.();
    const unsent = [...this.#inFlight, ...this.#queue];
    return { stats: this.stats, unsent };
  }

  #held(): number {
    return this.#queue.length + this.#inFlight.length;
  }

  /** Sends a partial batch after the interval, unless one is already due. */
  #arm(): void {
    if (this.#timer !== null || this.#sending) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#kick(true);
    }, this.#intervalMs);
  }

  /** Starts the send loop (full batches only, unless `partial`). */
  #kick(partial = false): void {
    if (partial) this.#partialDue = true;
    if (this.#sending || this.#stopped) return;
    this.#sending = true;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      while (!this.#stopped) {
        const due =
          this.#queue.length >= this.#batchSize ||
          (this.#queue.length > 0 && (this.#partialDue || this.#closed));
        if (!due) break;
        this.#inFlight = this.#queue.splice(0, this.#batchSize);
        if (this.#queue.length === 0) this.#partialDue = false;
        await this.#deliver();
        this.#inFlight = [];
        for (const wake of this.#roomWaiters.splice(0)) wake();
      }
    } finally {
      this.#sending = false;
      if (this.#held() > 0 && !this.#stopped) {
        if (this.#partialDue || this.#closed || this.#queue.length >= this.#batchSize) this.#kick();
        else this.#arm();
      }
    }
  }

  /** Sends `#inFlight` until every event of it is stored or refused (or the client stops). */
  async #deliver(): Promise<void> {
    let attempt = 0;
    while (this.#inFlight.length > 0 && !this.#stopped) {
      const verdict = await this.#post(this.#inFlight);
      switch (verdict.kind) {
        case "accepted":
          this.#stats.sent += this.#inFlight.length;
          this.#settle(this.#inFlight.length);
          this.#inFlight = [];
          return;
        case "reject": {
          const refused = new Set<number>();
          for (const e of verdict.errors) {
            const event = this.#inFlight[e.index];
            if (!event || refused.has(e.index)) continue;
            refused.add(e.index);
            this.#onError(
              new EventRejectedError(verdict.status, e.code, e.field, e.index, event.id, e.message),
            );
          }
          this.#stats.rejected += refused.size;
          this.#settle(refused.size);
          // All or nothing on the server: the others were not stored, and go again now.
          this.#inFlight = this.#inFlight.filter((_, i) => !refused.has(i));
          break;
        }
        case "split": {
          if (this.#inFlight.length === 1) {
            const [event] = this.#inFlight;
            this.#onError(
              new EventRejectedError(
                verdict.status,
                "body_too_large",
                "",
                0,
                event?.id ?? "",
                verdict.message,
              ),
            );
            this.#stats.rejected++;
            this.#settle(1);
            this.#inFlight = [];
            return;
          }
          // The second half goes back to the head of the queue, ahead of later events.
          const half = Math.ceil(this.#inFlight.length / 2);
          this.#queue.unshift(...this.#inFlight.slice(half));
          this.#inFlight = this.#inFlight.slice(0, half);
          break;
        }
        case "retry":
        case "refused": {
          this.#onError(
            verdict.kind === "retry"
              ? new TransientError(verdict.status, verdict.message)
              : new RequestRefusedError(verdict.status, verdict.code, verdict.message),
          );
          attempt++;
          this.#stats.retries++;
          await this.#sleep(backoffMs(attempt, verdict.retryAfterMs, this.#backoff));
          break;
        }
      }
    }
  }

  /** One POST; network errors and timeouts become a retry verdict. */
  async #post(events: WireEvent[]): Promise<Verdict> {
    const abort = new AbortController();
    this.#abort = abort;
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    try {
      const res = await this.#fetch(this.#url, {
        method: "POST",
        headers: { authorization: this.#auth, "content-type": "application/json" },
        body: JSON.stringify({ events }),
        signal: abort.signal,
      });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON (a proxy's error page): judged by its status alone.
      }
      return judge(res.status, body, parseRetryAfter(res.headers.get("retry-after")));
    } catch (err) {
      const message = abort.signal.aborted
        ? `no answer within ${this.#timeoutMs} ms`
        : err instanceof Error
          ? err.message
          : String(err);
      return { kind: "retry", status: 0, message, retryAfterMs: null };
    } finally {
      clearTimeout(timer);
      if (this.#abort === abort) this.#abort = null;
    }
  }

  /** Counts events stored or refused, and releases the flushes waiting for them. */
  #settle(n: number): void {
    this.#settled += n;
    this.#flushWaiters = this.#flushWaiters.filter((w) => {
      if (w.upTo > this.#settled) return true;
      w.resolve();
      return false;
    });
  }

  /** A backoff wait that close() can cut short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/** The event as it goes on the wire, with its id and time fixed now. */
function toWire(input: TrackInput): WireEvent {
  const at = input.timestamp ?? new Date();
  return {
    id: input.id ?? uuidv7(),
    customer: input.customer,
    event_name: input.event_name,
    value: input.value,
    timestamp: at instanceof Date ? at.toISOString() : at,
  };
}
