import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/connect.ts";
import { buildApp } from "../../src/http/app.ts";
import { authorize, readCredentials } from "../../src/http/auth.ts";
import { toApiError } from "../../src/http/error-handler.ts";
import { allowedMethods, routePattern } from "../../src/http/not-found.ts";
import { ApiError } from "../../src/lib/errors.ts";
import { apiError } from "./harness.ts";

// Routes that never reach the database: the app is built on a handle that must not be used.
const noDb = new Proxy(
  {},
  {
    get() {
      throw new Error("this test must not touch the database");
    },
  },
) as unknown as Db;

describe("HTTP errors", () => {
  it("unknown route → 404 not_found; known path, other method → 405 with Allow", async () => {
    const app = await buildApp({ db: noDb, config: defaultConfig() });
    try {
      const missing = await app.inject({ method: "GET", url: "/v2/nothing?x=1" });
      expect(missing.statusCode).toBe(404);
      expect(apiError(missing)).toEqual({
        code: "not_found",
        message: "no route for GET /v2/nothing",
      });

      const wrongMethod = await app.inject({ method: "PATCH", url: "/v1/customers/acme" });
      expect(wrongMethod.statusCode).toBe(405);
      expect(apiError(wrongMethod).code).toBe("method_not_allowed");
      expect(wrongMethod.headers.allow).toBe("DELETE, GET, HEAD, PUT");
    } finally {
      await app.close();
    }
  });

  it("a genuine server fault is 500 internal_error, logged, without details", async () => {
    const logs: string[] = [];
    const app = await buildApp({
      db: noDb,
      config: defaultConfig(),
      logger: { level: "error", stream: { write: (line: string) => logs.push(line) } },
    });
    app.get("/boom", async () => {
      throw new TypeError("secret internals");
    });
    try {
      const res = await app.inject({
        method: "GET",
        url: "/boom",
        headers: { "x-request-id": "req-42" },
      });
      expect(res.statusCode).toBe(500);
      expect(apiError(res).code).toBe("internal_error");
      expect(apiError(res).message).toContain("req-42");
      expect(res.body).not.toContain("secret internals");
      expect(res.headers["x-request-id"]).toBe("req-42");
      expect(logs.join("")).toContain("secret internals");
    } finally {
      await app.close();
    }
  });
});

describe("toApiError", () => {
  const fastifyError = (code: string, statusCode: number) =>
    Object.assign(new Error("fastify says"), { code, statusCode });

  it.each([
    ["FST_ERR_CTP_INVALID_JSON_BODY", 400, "invalid_json"],
    ["FST_ERR_CTP_EMPTY_JSON_BODY", 400, "invalid_json"],
    ["FST_ERR_CTP_BODY_TOO_LARGE", 413, "body_too_large"],
    ["FST_ERR_CTP_INVALID_MEDIA_TYPE", 415, "unsupported_media_type"],
    ["FST_ERR_CTP_INVALID_CONTENT_LENGTH", 400, "invalid_content_length"],
    ["FST_ERR_SOMETHING_NEW", 400, "bad_request"],
  ])("%s → %i %s", (code, status, ours) => {
    expect(toApiError(fastifyError(code, status), "r1")).toMatchObject({ status, code: ours });
  });

  it("keeps an ApiError as it is", () => {
    const err = new ApiError(422, "unknown_customer", "x");
    expect(toApiError(err, "r1")).toBe(err);
  });

  it("a database that is down is 503, retryable; anything else is 500", () => {
    const down = new Error("query failed", {
      cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }),
    });
    expect(toApiError(down, "r1")).toMatchObject({ status: 503, code: "service_unavailable" });
    const shutdown = Object.assign(new Error("terminating connection"), { code: "57P01" });
    expect(toApiError(shutdown, "r1").status).toBe(503);
    const unique = Object.assign(new Error("duplicate key"), { code: "23505" });
    expect(toApiError(unique, "r1")).toMatchObject({ status: 500, code: "internal_error" });
    expect(toApiError("a string", "r1").status).toBe(500);
  });
});

describe("auth decisions", () => {
  const key = {
    id: 1,
    name: "k",
    role: "ingest" as const,
    secretHash: "",
    prefix: "",
    createdAt: new Date(),
    revokedAt: null,
    expiresAt: null,
  };

  it("reads Bearer credentials, case-insensitively", () => {
    expect(readCredentials(undefined)).toEqual({ kind: "missing" });
    expect(readCredentials("bearer ml_abc")).toEqual({ kind: "bearer", secret: "ml_abc" });
    expect(readCredentials("Bearer")).toEqual({ kind: "malformed" });
    expect(readCredentials("Token ml_abc")).toEqual({ kind: "malformed" });
  });

  it("401 without a key, 403 with the wrong role, nothing when allowed", () => {
    expect(authorize({ kind: "missing" }, null, "ingest")?.status).toBe(401);
    expect(authorize({ kind: "bearer", secret: "x" }, null, "ingest")?.status).toBe(401);
    expect(authorize({ kind: "bearer", secret: "x" }, key, "admin")?.status).toBe(403);
    expect(authorize({ kind: "bearer", secret: "x" }, key, "ingest")).toBeNull();
    expect(
      authorize({ kind: "bearer", secret: "x" }, { ...key, role: "admin" }, "ingest"),
    ).toBeNull();
  });
});

describe("route patterns", () => {
  it("match concrete paths", () => {
    const routes = [
      { pattern: routePattern("/v1/customers/:key"), methods: ["GET", "PUT"] },
      { pattern: routePattern("/v1/customers"), methods: ["GET"] },
    ];
    expect(allowedMethods(routes, "/v1/customers/acme")).toEqual(["GET", "PUT"]);
    expect(allowedMethods(routes, "/v1/customers")).toEqual(["GET"]);
    expect(allowedMethods(routes, "/v1/customers/a/b")).toEqual([]);
  });
});
