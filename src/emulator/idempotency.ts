import type { Clock } from "./clock.ts";

/** How long a key is kept: Stripe prunes keys "at least 24 hours old"; the emulator at exactly 24 h. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Longest Idempotency-Key Stripe accepts. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** A response as the layer stores it, to replay byte for byte. */
export interface StoredResponse {
  /** HTTP status. */
  status: number;
  /** The serialized JSON body. */
  body: string;
  /** Headers worth replaying (Request-Id, Stripe-Should-Retry). */
  headers: Record<string, string>;
}

/** One key's entry: in flight, or done with its stored response. */
interface Entry {
  /** The request's method, path and canonical parameters. */
  fingerprint: string;
  /** Emulator clock time of the first use, in ms; the 24 h run from here. */
  createdMs: number;
  /** Null while the first request is still executing. */
  response: StoredResponse | null;
}

/** What the layer says about an incoming request with a key. */
export type IdempotencyVerdict =
  /** First use (or the first use's entry was pruned or never stored): execute it. */
  | { kind: "execute" }
  /** Same key, same parameters, done: replay this. */
  | { kind: "replay"; response: StoredResponse }
  /** Same key, different parameters. */
  | { kind: "mismatch" }
  /** Same key, the first request still running. */
  | { kind: "in_use" };

/**
 * Stripe's idempotency layer for POSTs. Keys are scoped by the caller (its API key or session
 * token, so live and test never meet) and kept 24 h by the emulator clock. stripe-node sends a
 * fresh key on every POST, so nearly every request lands here: entries are pruned oldest first
 * on every use (a Map keeps insertion order, which is creation order), so memory follows the
 * traffic of the last 24 emulated hours, not all time.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  /** Look a request up, and reserve the key (in flight) when it is to be executed. */
  begin(scope: string, key: string, fingerprint: string): IdempotencyVerdict {
    this.prune();
    const id = entryId(scope, key);
    const entry = this.entries.get(id);
    if (entry === undefined) {
      this.entries.set(id, { fingerprint, createdMs: this.clock.now(), response: null });
      return { kind: "execute" };
    }
    if (entry.fingerprint !== fingerprint) return { kind: "mismatch" };
    if (entry.response === null) return { kind: "in_use" };
    return { kind: "replay", response: entry.response };
  }

  /** Store the response of an executed request; later uses of the key replay it. */
  complete(scope: string, key: string, response: StoredResponse): void {
    const entry = this.entries.get(entryId(scope, key));
    if (entry && entry.response === null) entry.response = response;
  }

  /**
   * Forget a reservation whose request produced nothing worth keeping (it failed validation
   * before execution began): Stripe does not save those, so a retry executes again.
   */
  release(scope: string, key: string): void {
    const id = entryId(scope, key);
    if (this.entries.get(id)?.response === null) this.entries.delete(id);
  }

  /** How many keys are held (for the state route and the pruning test). */
  size(): number {
    this.prune();
    return this.entries.size;
  }

  private prune(): void {
    const cutoff = this.clock.now() - IDEMPOTENCY_WINDOW_MS;
    for (const [id, entry] of this.entries) {
      // Oldest first: the first young entry ends the sweep. A moved-back clock can leave an
      // old entry behind a younger one for a while; it goes once the clock passes it again.
      if (entry.createdMs > cutoff) break;
      this.entries.delete(id);
    }
  }
}

function entryId(scope: string, key: string): string {
  return JSON.stringify([scope, key]);
}

/**
 * The parameters of a request in a canonical form: method, path and the parsed body with keys
 * sorted, so a retry that encodes the same parameters in another order still matches.
 */
export function fingerprintOf(method: string, path: string, body: unknown): string {
  return JSON.stringify([method, path, canonical(body)]);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = canonical((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}
