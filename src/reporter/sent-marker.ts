import type { Db } from "../db/connect.ts";
import { markSent, type SendRef } from "../outbox/mark-sent.ts";

interface Waiter {
  resolve: (marked: Map<string, Date>) => void;
  reject: (err: unknown) => void;
}

/**
 * Writes first_sent_at before requests leave (outbox/mark-sent.ts), coalescing: a mark waits up
 * to `lingerMs` (the settle linger) for others to share its statement, and those asked for while
 * one runs go together in the next. Each statement is a commit: at v1's ~1,000 requests/s the
 * limiter lets requests out one at a time, ~1 ms apart, and without the wait nearly every
 * request paid a commit of its own before leaving. The wait delays a request's departure, never
 * the rate: its token is already taken. With `lingerMs` 0 the marks asked for in the same turn
 * of the event loop (the requests one dispatch starts) still share one. Only an event's first
 * send needs a mark.
 */
export class SentMarker {
  private refs: SendRef[] = [];
  private waiters: Waiter[] = [];
  private running = false;
  /** When the oldest mark now waiting was asked for: the linger counts from it. */
  private oldestAt = 0;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
    private readonly lingerMs = 0,
  ) {}

  /** Resolves with the first_sent_at written for each event still ours (see markSent). */
  mark(refs: SendRef[]): Promise<Map<string, Date>> {
    return new Promise((resolve, reject) => {
      if (this.waiters.length === 0) this.oldestAt = Date.now();
      this.refs.push(...refs);
      this.waiters.push({ resolve, reject });
      if (this.running) return;
      this.running = true;
      void this.run();
    });
  }

  /** Until the oldest waiting mark has lingered; at least until this turn's marks are in. */
  private linger(): Promise<void> {
    const wait = this.oldestAt + this.lingerMs - Date.now();
    return new Promise((resolve) => {
      if (wait > 0) setTimeout(resolve, wait);
      else setImmediate(resolve);
    });
  }

  private async run(): Promise<void> {
    while (this.waiters.length > 0) {
      await this.linger();
      const refs = this.refs;
      const waiters = this.waiters;
      this.refs = [];
      this.waiters = [];
      try {
        const marked = await markSent(this.db, this.owner, refs);
        for (const w of waiters) w.resolve(marked);
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.running = false;
  }
}
