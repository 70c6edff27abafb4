import type { Db } from "../db/connect.ts";
import type { ApiKey } from "../db/schema/api-keys.ts";
import { watchRevocations } from "../ops/api-key-revocations.ts";
import { findLiveKey, hashSecret } from "../ops/api-keys.ts";

/**
 * How long a key found live is trusted without asking the database again (never past its own
 * `expires_at`, so expiry needs no notification): the bound on how long
 * a revoked key may still be accepted when its revocation went unheard (the listening
 * connection was down, or `revoked_at` was set by hand in SQL). Revocations through
 * `revokeApiKey` (the CLI, the API) are heard by every process within milliseconds.
 */
export const API_KEY_CACHE_TTL_MS = 5_000;

/** How many keys a cache holds at most: far more than any deployment has live keys. */
const MAX_ENTRIES = 10_000;

/** What authentication needs: the live key a secret belongs to, or null. */
export interface ApiKeyVerifier {
  verify(secret: string): Promise<ApiKey | null>;
}

/** A verifier with a connection to close. */
export interface OpenApiKeyCache extends ApiKeyVerifier {
  close(): Promise<void>;
}

/**
 * API keys found live, by secret hash, for `ttlMs` each: a request then costs a SHA-256, not a
 * round trip. Only live keys are kept; an unknown secret is looked up every time, as before, so
 * a key created a moment ago works at once. Concurrent misses for one secret share one lookup.
 */
export class ApiKeyCache implements ApiKeyVerifier {
  private readonly entries = new Map<string, { key: ApiKey; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<ApiKey | null>>();
  // Bumped by every revocation heard: a lookup that began before it must not be cached.
  private generation = 0;

  constructor(
    private readonly lookup: (secretHash: string) => Promise<ApiKey | null>,
    private readonly ttlMs: number = API_KEY_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async verify(secret: string): Promise<ApiKey | null> {
    // Real secrets are 46 characters; hashing an oversized header buys an attacker nothing.
    if (secret.length === 0 || secret.length > 200) return null;
    const hash = hashSecret(secret);
    const hit = this.entries.get(hash);
    if (hit !== undefined) {
      // Capped at the key's own expiry (load), so an expired key is never answered from here.
      if (hit.expiresAt > this.now()) return hit.key;
      this.entries.delete(hash);
    }
    let pending = this.pending.get(hash);
    if (pending === undefined) {
      pending = this.load(hash);
      this.pending.set(hash, pending);
    }
    return pending;
  }

  /** Stops trusting key `id` (revoked). */
  revoked(id: number): void {
    this.generation++;
    this.pending.clear();
    for (const [hash, entry] of this.entries) if (entry.key.id === id) this.entries.delete(hash);
  }

  /** Stops trusting every cached key (revocations may have gone unheard). */
  missed(): void {
    this.generation++;
    this.pending.clear();
    this.entries.clear();
  }

  private async load(hash: string): Promise<ApiKey | null> {
    const generation = this.generation;
    // The entry's age counts from before the read: what it read can only be older than that.
    const readAt = this.now();
    try {
      const found = await this.lookup(hash);
      // The database compared expiry with its clock; this process's clock has the last word too.
      const until = found?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
      const key = found !== null && until > this.now() ? found : null;
      if (key !== null && generation === this.generation) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        // A key that expires sooner than the TTL is trusted only until it expires.
        this.entries.set(hash, { key, expiresAt: Math.min(readAt + this.ttlMs, until) });
      }
      return key;
    } finally {
      // Only this load's own slot: a revocation may have cleared it and a newer load taken it.
      if (generation === this.generation) this.pending.delete(hash);
    }
  }
}

/**
 * A key cache on `db` that hears revocations (ops/api-key-revocations.ts): this process's at
 * once, other processes' through Postgres LISTEN/NOTIFY, and any unheard one within `ttlMs`.
 * It starts listening at its first lookup, before reading the key, so an app whose routes never
 * check a key opens no connection for it.
 */
export function openApiKeyCache(db: Db, ttlMs: number = API_KEY_CACHE_TTL_MS): OpenApiKeyCache {
  let watching: Promise<() => Promise<void>> | null = null;
  let closed = false;
  const cache = new ApiKeyCache(async (hash) => {
    if (!closed) {
      watching ??= watchRevocations(db, cache);
      await watching;
    }
    return findLiveKey(db, hash);
  }, ttlMs);
  return {
    verify: (secret) => cache.verify(secret),
    async close() {
      closed = true;
      if (watching !== null) await (await watching)();
    },
  };
}
