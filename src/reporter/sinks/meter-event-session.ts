import type Stripe from "stripe";

/** Stripe's documented lifetime of a meter event session, used when a session omits its times. */
export const SESSION_LIFETIME_MS = 15 * 60_000;

/**
 * The process's one v2 meter event session: created on first use, refreshed ahead of its
 * expiry (at `refreshShare` of its lifetime, default 80 %), and shared by every concurrent
 * request — one create in flight at a time, however many batches ask.
 */
export class MeterEventSessions {
  private current: { token: string; refreshAtMs: number } | null = null;
  private creating: Promise<string> | null = null;

  constructor(
    private readonly stripe: Stripe,
    private readonly refreshShare = 0.8,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token that is, by our clock, still inside the refresh-ahead part of its lifetime. */
  token(): Promise<string> {
    if (this.current && this.now() < this.current.refreshAtMs) {
      return Promise.resolve(this.current.token);
    }
    this.creating ??= this.create().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  /** Stripe said `token` expired: forget it, so the next token() creates a new session. */
  expire(token: string): void {
    if (this.current?.token === token) this.current = null;
  }

  private async create(): Promise<string> {
    const startedAt = this.now();
    const session = await this.stripe.v2.billing.meterEventSession.create();
    // Stripe's lifetime (expires_at − created), counted from OUR clock at the request: a clock
    // skew between us and Stripe cannot make us hold a token past its end.
    const lifetime = Date.parse(session.expires_at) - Date.parse(session.created);
    const ms = Number.isFinite(lifetime) && lifetime > 0 ? lifetime : SESSION_LIFETIME_MS;
    this.current = {
      token: session.authentication_token,
      refreshAtMs: startedAt + ms * this.refreshShare,
    };
    return session.authentication_token;
  }
}
