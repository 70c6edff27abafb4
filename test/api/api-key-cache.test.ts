import { describe, expect, it } from "vitest";
import type { ApiKey } from "../../src/db/schema/api-keys.ts";
import { ApiKeyCache } from "../../src/http/api-key-cache.ts";
import { hashSecret } from "../../src/ops/api-keys.ts";

/** A key store the test controls, counting lookups, and a clock the test moves. */
function setup(ttlMs = 5_000) {
  const live = new Map<string, ApiKey>();
  let lookups = 0;
  let clock = 1_000_000;
  const gates: Array<() => void> = [];
  let gated = false;
  const cache = new ApiKeyCache(
    async (hash) => {
      lookups++;
      const key = live.get(hash) ?? null;
      if (gated) await new Promise<void>((resolve) => gates.push(resolve));
      return key;
    },
    ttlMs,
    () => clock,
  );
  const add = (id: number, secret: string, expiresAt: Date | null = null) => {
    const key: ApiKey = {
      id,
      name: `key ${id}`,
      role: "ingest",
      secretHash: hashSecret(secret),
      prefix: secret.slice(0, 10),
      createdAt: new Date(0),
      revokedAt: null,
      expiresAt,
    };
    live.set(key.secretHash, key);
    return key;
  };
  return {
    cache,
    add,
    revokeInDb: (secret: string) => live.delete(hashSecret(secret)),
    lookups: () => lookups,
    advance: (ms: number) => {
      clock += ms;
    },
    gate: () => {
      gated = true;
    },
    open: () => {
      gated = false;
      for (const release of gates.splice(0)) release();
    },
  };
}

describe("ApiKeyCache", () => {
  it("looks a live key up once per TTL, not once per request", async () => {
    const t = setup(5_000);
    t.add(1, "ml_one");
    for (let i = 0; i < 100; i++) expect((await t.cache.verify("ml_one"))?.id).toBe(1);
    expect(t.lookups()).toBe(1);
    t.advance(4_999);
    await t.cache.verify("ml_one");
    expect(t.lookups()).toBe(1);
    t.advance(1);
    await t.cache.verify("ml_one");
    expect(t.lookups()).toBe(2);
  });

  it("a key revoked where nobody heard it is refused once its TTL has passed", async () => {
    const t = setup(5_000);
    t.add(1, "ml_one");
    await t.cache.verify("ml_one");
    t.revokeInDb("ml_one");
    expect(await t.cache.verify("ml_one")).not.toBeNull();
    t.advance(5_000);
    expect(await t.cache.verify("ml_one")).toBeNull();
  });

  it("a heard revocation is refused at once; other keys stay cached", async () => {
    const t = setup();
    t.add(1, "ml_one");
    t.add(2, "ml_two");
    await t.cache.verify("ml_one");
    await t.cache.verify("ml_two");
    t.revokeInDb("ml_one");
    t.cache.revoked(1);
    expect(await t.cache.verify("ml_one")).toBeNull();
    expect((await t.cache.verify("ml_two"))?.id).toBe(2);
    expect(t.lookups()).toBe(3);
  });

  it("missed revocations (the listener reconnected) empty the cache", async () => {
    const t = setup();
    t.add(1, "ml_one");
    await t.cache.verify("ml_one");
    t.cache.missed();
    await t.cache.verify("ml_one");
    expect(t.lookups()).toBe(2);
  });

  it("an unknown secret is not cached: a key created a moment later works at once", async () => {
    const t = setup();
    expect(await t.cache.verify("ml_new")).toBeNull();
    t.add(3, "ml_new");
    expect((await t.cache.verify("ml_new"))?.id).toBe(3);
  });

  it("concurrent misses for one secret share one lookup", async () => {
    const t = setup();
    t.add(1, "ml_one");
    t.gate();
    const all = Array.from({ length: 20 }, () => t.cache.verify("ml_one"));
    t.open();
    expect((await Promise.all(all)).every((k) => k?.id === 1)).toBe(true);
    expect(t.lookups()).toBe(1);
  });

  it("a lookup in flight when a revocation is heard is not cached, nor joined by later requests", async () => {
    const t = setup();
    t.add(1, "ml_one");
    t.gate();
    const before = t.cache.verify("ml_one");
    // The revocation commits and is heard while the lookup (which read the key live) is out.
    t.revokeInDb("ml_one");
    t.cache.revoked(1);
    const after = t.cache.verify("ml_one");
    t.open();
    expect((await before)?.id).toBe(1);
    expect(await after).toBeNull();
    expect(await t.cache.verify("ml_one")).toBeNull();
  });

  it("a key that expires within the TTL is refused from its expiry on, without a notification", async () => {
    const t = setup(5_000);
    t.add(1, "ml_soon", new Date(1_000_000 + 2_000));
    expect((await t.cache.verify("ml_soon"))?.id).toBe(1);
    t.advance(1_999);
    expect((await t.cache.verify("ml_soon"))?.id).toBe(1);
    expect(t.lookups()).toBe(1);
    t.advance(1);
    // The store still returns it (its clock may lag this one's): refused all the same.
    expect(await t.cache.verify("ml_soon")).toBeNull();
    expect(t.lookups()).toBe(2);
  });

  it("refuses empty and oversized secrets without a lookup", async () => {
    const t = setup();
    expect(await t.cache.verify("")).toBeNull();
    expect(await t.cache.verify("x".repeat(201))).toBeNull();
    expect(t.lookups()).toBe(0);
  });
});
