import type { Db } from "../db/connect.ts";
import { markSent, type SendRef } from "../outbox/mark-sent.ts";

interface Waiter {
  resolve: (marked: Map<string, Date>) => void;
  reject: (err: unknown) => void;
}

/**
 * Writes first_sent_at before requests leave (outbox/mark-sent.ts), coalescing: the marks asked
 * for in the same turn of the event loop (the requests one dispatch starts) go out in one
 * statement, and those asked for while it runs go together in the next, so under load one round
 * trip covers many requests, and when idle a mark is written at once. Only an event's first send
 * needs one.
 */
export class SentMarker {
  private refs: SendRef[] = [];
  private waiters: Waiter[] = [];
  private running = false;

  constructor(
    private readonly db: Db,
    private readonly owner: string,
  ) {}

  /** Resolves with the first_sent_at written for each event still ours (see markSent). */
  mark(refs: SendRef[]): Promise<Map<string, Date>> {
    return new Promise((resolve, reject) => {
      this.refs.push(...refs);
      this.waiters.push({ resolve, reject });
      if (this.running) return;
      this.running = true;
      // After this turn: every request started with this one shares its statement.
      setImmediate(() => void this.run());
    });
  }

  private async run(): Promise<void> {
    while (this.waiters.length > 0) {
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
