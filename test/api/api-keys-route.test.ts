import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../support/db.ts";
import { apiError, startApi, type TestApi } from "./harness.ts";

describe.each(backends)("API keys over HTTP on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());

  const create = (payload: object, authorization?: string) =>
    api.call({
      method: "POST",
      url: "/v1/api-keys",
      payload,
      ...(authorization ? { headers: { authorization } } : {}),
    });
  const meters = (secret: string) =>
    api.call({ method: "GET", url: "/v1/meters", headers: { authorization: `Bearer ${secret}` } });

  it("POST answers the secret once; the key works; GET lists it without the secret", async () => {
    const res = await create({ name: "billing job", role: "ingest", expires_in_days: 30 });
    expect(res.statusCode).toBe(201);
    const key = res.json();
    expect(Object.keys(key).sort()).toEqual(
      [
        "created_at",
        "expires_at",
        "id",
        "name",
        "prefix",
        "revoked_at",
        "role",
        "secret",
        "status",
      ].sort(),
    );
    expect(key).toMatchObject({ name: "billing job", role: "ingest", status: "active" });
    expect(key.secret.startsWith(key.prefix)).toBe(true);
    const days = (Date.parse(key.expires_at) - Date.parse(key.created_at)) / 86_400_000;
    expect(days).toBeCloseTo(30, 2);

    // An ingest key may send events but not read meters (admin).
    expect((await meters(key.secret)).statusCode).toBe(403);

    const listed = await api.call({ method: "GET", url: "/v1/api-keys" });
    expect(listed.statusCode).toBe(200);
    const row = listed.json().data.find((k: { id: number }) => k.id === key.id);
    const { secret: _secret, ...shown } = key;
    expect(row).toEqual(shown);
    expect(listed.body).not.toContain(key.secret);
  });

  it("DELETE revokes: the key is refused at once, listed as revoked; again is the same answer", async () => {
    const key = (await create({ name: "to revoke", role: "admin" })).json();
    expect(key.expires_at).toBeNull();
    expect((await meters(key.secret)).statusCode).toBe(200);
    const revoked = await api.call({ method: "DELETE", url: `/v1/api-keys/${key.id}` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: key.id, status: "revoked" });
    expect((await meters(key.secret)).statusCode).toBe(401);
    const again = await api.call({ method: "DELETE", url: `/v1/api-keys/${key.id}` });
    expect(again.json().revoked_at).toBe(revoked.json().revoked_at);
  });

  it("a key past its expires_at is refused like a revoked one, without a restart", async () => {
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const key = (await create({ name: "short", role: "admin", expires_at: expiresAt })).json();
    expect(key.expires_at).toBe(expiresAt);
    expect((await meters(key.secret)).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const refused = await meters(key.secret);
    expect(refused.statusCode).toBe(401);
    expect(apiError(refused).message).toContain("expired");
    const listed = await api.call({ method: "GET", url: "/v1/api-keys" });
    expect(listed.json().data.find((k: { id: number }) => k.id === key.id).status).toBe("expired");
  });

  it("an expiry set in the database by hand is honoured once the cache's TTL has passed", async () => {
    const key = (await create({ name: "by hand", role: "admin" })).json();
    expect((await meters(key.secret)).statusCode).toBe(200);
    await api.db.execute(
      sql`update api_keys set expires_at = now() - interval '1 second' where id = ${key.id}`,
    );
    // The app's cache trusts a key for 5 s: past that, the database's answer counts.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    expect((await meters(key.secret)).statusCode).toBe(401);
  }, 15_000);

  it("bad input names the field and the rule", async () => {
    const cases: Array<[object, string]> = [
      [{ role: "admin" }, "name"],
      [{ name: "x", role: "owner" }, "role"],
      [{ name: "x", role: "admin", expires_at: "tomorrow" }, "expires_at"],
      [{ name: "x", role: "admin", expires_at: "2001-01-01T00:00:00Z" }, "expires_at"],
      [{ name: "x", role: "admin", expires_in_days: 0 }, "expires_in_days"],
      [{ name: "x", role: "admin", expires_in_days: 1.5 }, "expires_in_days"],
      [
        {
          name: "x",
          role: "admin",
          expires_in_days: 1,
          expires_at: "2099-01-01T00:00:00Z",
        },
        "expires_in_days",
      ],
      [{ name: "x", role: "admin", colour: "red" }, "colour"],
    ];
    for (const [payload, field] of cases) {
      const res = await create(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const error = apiError(res);
      expect(error.code).toBe("invalid_body");
      const fields = [error.field, ...(error.errors ?? []).map((e) => e.field)];
      expect(fields, JSON.stringify(error)).toContain(field);
    }
  });

  it("unknown and malformed ids: 404 api_key_not_found, 400 invalid_param", async () => {
    const missing = await api.call({ method: "DELETE", url: "/v1/api-keys/999999" });
    expect(missing.statusCode).toBe(404);
    expect(apiError(missing).code).toBe("api_key_not_found");
    const bad = await api.call({ method: "DELETE", url: "/v1/api-keys/abc" });
    expect(bad.statusCode).toBe(400);
    expect(apiError(bad)).toMatchObject({ code: "invalid_param", field: "id" });
  });

  it("only admin keys manage keys", async () => {
    const res = await create({ name: "sneaky", role: "admin" }, `Bearer ${api.ingestKey}`);
    expect(res.statusCode).toBe(403);
  });
});
