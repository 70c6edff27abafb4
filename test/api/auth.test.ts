import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { buildApp } from "../../src/http/app.ts";
import {
  createApiKey,
  hashSecret,
  listApiKeys,
  revokeApiKey,
  verifyApiKey,
} from "../../src/ops/api-keys.ts";
import { backends } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

describe.each(backends)("API keys and auth on %s", (kind) => {
  let api: TestApi;
  let ready = { ready: true, reasons: [] as string[] };
  beforeAll(async () => {
    api = await startApi(kind, { readiness: () => ready });
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
  });
  afterAll(() => api?.close());

  const as = (secret: string): Record<string, string> => ({ authorization: `Bearer ${secret}` });
  const anonymous = (method: "GET" | "POST", url: string, headers: Record<string, string> = {}) =>
    api.app.inject({ method, url, headers });

  it("createApiKey returns the secret once and stores only its SHA-256", async () => {
    const key = await createApiKey(api.db, { name: "billing job", role: "ingest" });
    expect(key.secret).toMatch(/^ml_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 10));
    const [row] = await rows<{ secret_hash: string; prefix: string }>(
      api.db,
      sql`select secret_hash, prefix from api_keys where id = ${key.id}`,
    );
    expect(row).toEqual({ secret_hash: hashSecret(key.secret), prefix: key.prefix });
    expect(row?.secret_hash).not.toContain(key.secret.slice(3));
    expect(await verifyApiKey(api.db, key.secret)).toMatchObject({ id: key.id, role: "ingest" });
    expect(await verifyApiKey(api.db, `${key.secret}x`)).toBeNull();
    const listed = await listApiKeys(api.db);
    expect(listed.find((k) => k.id === key.id)).toMatchObject({
      name: "billing job",
      revokedAt: null,
    });
    expect(listed.every((k) => !("secretHash" in k))).toBe(true);
  });

  it("401 names a missing key", async () => {
    const res = await anonymous("GET", "/v1/events/x");
    expect(res.statusCode).toBe(401);
    expect(apiError(res)).toMatchObject({
      code: "unauthorized",
      message: expect.stringContaining("missing API key"),
    });
    expect(res.headers["www-authenticate"]).toContain("Bearer");
  });

  it("401 names an invalid key, and a header that is not Bearer", async () => {
    const invalid = await anonymous("GET", "/v1/events/x", as("ml_not-a-real-key"));
    expect(invalid.statusCode).toBe(401);
    expect(apiError(invalid).message).toContain("invalid API key");
    const basic = await anonymous("GET", "/v1/events/x", { authorization: "Basic dXNlcjpwdw==" });
    expect(basic.statusCode).toBe(401);
    expect(apiError(basic).message).toContain("expected Bearer <secret>");
  });

  it("401 for a revoked key, at once", async () => {
    const key = await createApiKey(api.db, { name: "soon revoked", role: "admin" });
    expect((await anonymous("GET", "/v1/meters", as(key.secret))).statusCode).toBe(200);
    const revoked = await revokeApiKey(api.db, key.id);
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    const res = await anonymous("GET", "/v1/meters", as(key.secret));
    expect(res.statusCode).toBe(401);
    expect(apiError(res).code).toBe("unauthorized");
    expect(await revokeApiKey(api.db, 999_999)).toBeNull();
  });

  it("401 comes before the body is read: an anonymous oversized body is not parsed", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/events",
      payload: "x".repeat(2 * 1024 * 1024),
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(401);
  });

  it("an ingest key may post events and read one; everything else is 403 naming the role", async () => {
    const ingest = as(api.ingestKey);
    const posted = await api.app.inject({
      method: "POST",
      url: "/v1/events",
      payload: { id: "auth-1", customer: "acme", event_name: "api_calls", value: 1 },
      headers: ingest,
    });
    expect(posted.statusCode).toBe(202);
    expect((await anonymous("GET", "/v1/events/auth-1", ingest)).statusCode).toBe(200);
    for (const [method, url] of [
      ["GET", "/v1/meters"],
      ["GET", "/v1/customers/acme"],
      ["GET", "/v1/stats"],
    ] as const) {
      const res = await anonymous(method, url, ingest);
      expect(res.statusCode).toBe(403);
      expect(apiError(res)).toMatchObject({
        code: "forbidden",
        message: 'this route needs an admin key; key "test ingest" has role ingest',
      });
    }
  });

  it("an admin key may do everything", async () => {
    const admin = as(api.adminKey);
    expect((await anonymous("GET", "/v1/events/auth-1", admin)).statusCode).toBe(200);
    expect((await anonymous("GET", "/v1/meters", admin)).statusCode).toBe(200);
    expect((await anonymous("GET", "/v1/stats", admin)).statusCode).toBe(200);
  });

  it("/healthz and /readyz need no key", async () => {
    const health = await anonymous("GET", "/healthz");
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: "ok" });
    const readyRes = await anonymous("GET", "/readyz");
    expect(readyRes.statusCode).toBe(200);
    expect(readyRes.json()).toMatchObject({ ready: true, reasons: [], circuits: [] });
  });

  it("/readyz is 503 with the reasons when a part is not ready", async () => {
    ready = { ready: false, reasons: ["reporting halted: invalid Stripe key"] };
    try {
      const res = await anonymous("GET", "/readyz");
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        ready: false,
        reasons: ["reporting halted: invalid Stripe key"],
      });
    } finally {
      ready = { ready: true, reasons: [] };
    }
  });
});

describe("readiness without a database", () => {
  it("/readyz is 503 naming the database when select 1 fails", async () => {
    const broken = {
      execute: async () => {
        throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
      },
    } as unknown as Db;
    const app = await buildApp({ db: broken, config: defaultConfig() });
    try {
      const res = await app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        ready: false,
        reasons: ["database: connect ECONNREFUSED 127.0.0.1:5432"],
        circuits: [],
        workers: { live: null, note: "unknown: the database did not answer" },
      });
    } finally {
      await app.close();
    }
  });
});
