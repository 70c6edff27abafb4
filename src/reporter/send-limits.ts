import { AimdLimiter, aimdFor } from "./limiter.ts";
import type { UsageSink } from "./sinks/port.ts";

/**
 * The rate limits one request must fit: the account's (the process's shared limiter) and, for a
 * sink whose endpoint Stripe limits on its own (usage records: 25 requests/s), that endpoint's.
 * Without an account limiter (an emulator, unless METERLINE_RATE_LIMIT is set) nothing is
 * limited, the endpoints neither: the emulator limits only when told to. Tokens are checked
 * before a request is taken from the queue, so a request never holds a send slot while it
 * waits: a slow endpoint's requests cannot crowd out the others' (the queue skips them).
 */
export class SendLimits {
  private readonly own = new Map<UsageSink, AimdLimiter>();
  private share = 1;

  constructor(private readonly account: AimdLimiter | null | undefined) {}

  /** Ms until a request through `sink` may leave: 0 now. */
  wait(sink: UsageSink, now: number): number {
    if (!this.account) return 0;
    return Math.max(this.account.wait(now), this.endpoint(sink, now)?.wait(now) ?? 0);
  }

  /** Ms until the account lets any request leave: 0 now. */
  accountWait(now: number): number {
    return this.account?.wait(now) ?? 0;
  }

  /** Takes a token from every limit `sink` is under; call only when wait() said 0. */
  take(sink: UsageSink, now: number): void {
    this.account?.take(now);
    this.endpoint(sink, now)?.take(now);
  }

  /**
   * A 429 for a request through `sink`: its endpoint's limit when it has one (the account's
   * other requests are not what met it), the account's otherwise. True when a rate decreased:
   * the first 429 of a burst, not the rest already in flight.
   */
  throttled(sink: UsageSink, now: number): boolean {
    const limiter = this.endpoint(sink, now) ?? this.account;
    return limiter?.throttled(now) ?? false;
  }

  /** Whether any limit is in force (else 429s are left to the worker's pause). */
  get limited(): boolean {
    return Boolean(this.account);
  }

  /** How many live workers share the account: every limit here is the account's, so all. */
  setShare(workers: number): void {
    this.share = workers;
    this.account?.setShare(workers);
    for (const limiter of this.own.values()) limiter.setShare(workers);
  }

  private endpoint(sink: UsageSink, now: number): AimdLimiter | undefined {
    if (!this.account || sink.requestsPerSec === undefined) return undefined;
    let limiter = this.own.get(sink);
    if (!limiter) {
      limiter = new AimdLimiter(aimdFor(sink.requestsPerSec), now);
      limiter.setShare(this.share);
      this.own.set(sink, limiter);
    }
    return limiter;
  }
}
