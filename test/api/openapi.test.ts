import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stripeEventsRoutes } from "../../src/billing/stripe-events-route.ts";
import { defaultConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/connect.ts";
import type { RunningEmulator } from "../../src/emulator/index.ts";
import { buildApp } from "../../src/http/app.ts";
import type { JsonSchema, OpenApiDocument, Operation } from "../../src/openapi/openapi.ts";
import { bookedRoutes } from "../../src/openapi/route-book.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { emulator } from "../reporter/harness.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { type Sample, samples } from "./contract-samples.ts";

/**
 * The routes the reference leaves out, on purpose: probes and a scrape target that load
 * balancers and Prometheus call (their contracts are theirs), and the reference itself.
 */
const NOT_DOCUMENTED = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /openapi.json",
  "GET /docs",
  // The dashboard page and its files: HTML for a browser, not an API.
  "GET /",
  "GET /dashboard",
  "GET /dashboard/app.js",
  "GET /dashboard/app.css",
  "GET /dashboard/icon.svg",
]);

const WEBHOOK_SECRET = "whsec_contract_test";

describe.each(backends)("the API reference, on %s", (kind) => {
  let database: Database;
  let env: { emu: RunningEmulator; stripe: Stripe };
  let app: FastifyInstance;
  const keys = { admin: "", ingest: "" };

  beforeAll(async () => {
    database = await freshDatabase(kind);
    env = await emulator();
    app = await buildApp({ db: database.db, config: defaultConfig(), stripe: env.stripe });
    // As system.ts does for a process with a Stripe key: the one route added after buildApp.
    await app.register(stripeEventsRoutes, {
      db: database.db,
      stripe: env.stripe,
      webhookSecret: WEBHOOK_SECRET,
    });
    keys.admin = (await createApiKey(database.db, { name: "admin", role: "admin" })).secret;
    keys.ingest = (await createApiKey(database.db, { name: "ingest", role: "ingest" })).secret;
  });
  afterAll(async () => {
    await app?.close();
    await env?.emu.close();
    await database?.close();
  });

  async function document(): Promise<OpenApiDocument> {
    const res = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    return res.json() as OpenApiDocument;
  }

  /** The document validated against the official OpenAPI 3.1 schema, its $refs resolved. */
  async function validDocument(): Promise<OpenApiDocument> {
    const validator = new Validator();
    const result = await validator.validate(
      (await document()) as unknown as Record<string, unknown>,
    );
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    return validator.resolveRefs() as unknown as OpenApiDocument;
  }

  it("serves /openapi.json without a key, valid against the official OpenAPI 3.1 schema", async () => {
    const doc = await validDocument();
    // The official schema leaves Schema Objects to their dialect, JSON Schema 2020-12: ajv
    // checks each against that meta-schema as it compiles it, strictly (an unknown keyword or
    // a misspelt type is an error).
    const ajv = contractAjv();
    for (const { op } of operations(doc)) {
      const body = op.requestBody?.content["application/json"].schema;
      if (body) ajv.compile(body);
      for (const r of Object.values(op.responses))
        ajv.compile(r.content["application/json"].schema);
    }
  });

  it("documents every route but the probes, the metrics and the reference itself", async () => {
    const routes = bookedRoutes(app).map((r) => `${r.method} ${r.url}`);
    const undocumented = bookedRoutes(app)
      .filter((r) => r.doc === null)
      .map((r) => `${r.method} ${r.url}`);
    expect(undocumented.sort()).toEqual([...NOT_DOCUMENTED].sort());
    const doc = await document();
    const documented = operations(doc).map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(documented.length).toBe(routes.length - NOT_DOCUMENTED.size);
    expect(documented).toContain("POST /v1/events");
    expect(documented).toContain("PUT /v1/customers/{key}/subscription_items/{event_name}");
  });

  it("serves /docs without a key: one self-contained page listing every documented route", async () => {
    const res = await app.inject({ method: "GET", url: "/docs" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    // Nothing fetched from elsewhere: it reads the same offline.
    expect(res.body).not.toMatch(/<script|<link|src=|https?:\/\/(?!spec)/);
    for (const { method, path } of operations(await document())) {
      expect(res.body).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
    }
    // Rules the handlers enforce show as descriptions.
    expect(res.body).toContain("value must be a whole number ≥ 0");
  });

  it("answers every documented route as documented: a success and a refusal each", async () => {
    const doc = await validDocument();
    const ajv = contractAjv();
    const validators = new Map<JsonSchema, ValidateFunction>();
    const validate = (schema: JsonSchema, value: unknown): string | null => {
      let v = validators.get(schema);
      if (!v) {
        v = ajv.compile(schema);
        validators.set(schema, v);
      }
      return v(value) ? null : ajv.errorsText(v.errors);
    };
    const seen = new Map<string, { success: number; refusal: number }>();
    for (const sample of samples) {
      const where = `${sample.method} ${sample.url} → ${sample.status}`;
      await sample.before?.(database.db);
      const res = await app.inject(request(sample, keys, env.stripe));
      expect(res.statusCode, `${where}: ${res.body}`).toBe(sample.status);
      const found = operationOf(doc, sample);
      expect(found, `${where}: no documented operation`).not.toBeNull();
      if (!found) continue;
      const documented = found.op.responses[String(res.statusCode)];
      expect(documented, `${where}: status not documented`).toBeDefined();
      if (!documented) continue;
      expect(validate(documented.content["application/json"].schema, res.json()), where).toBeNull();
      const requestSchema = found.op.requestBody?.content["application/json"].schema;
      if (requestSchema && res.statusCode < 300) {
        // What the server accepted, the document allows.
        expect(validate(requestSchema, sample.body ?? {}), `${where}: request body`).toBeNull();
      }
      const tally = seen.get(found.id) ?? { success: 0, refusal: 0 };
      if (res.statusCode < 300) tally.success++;
      else tally.refusal++;
      seen.set(found.id, tally);
    }
    const missing = operations(doc)
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .filter((id) => !(seen.get(id)?.success && seen.get(id)?.refusal));
    expect(
      missing,
      "documented routes without a success and a refusal in contract-samples.ts",
    ).toEqual([]);
  });
});

/** Ajv in JSON Schema 2020-12 mode, strict, as OpenAPI 3.1's Schema Objects are. */
function contractAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  // zod writes the date-time rule as a pattern beside the format, so the pattern checks it.
  ajv.addFormat("date-time", true);
  return ajv;
}

function operations(doc: OpenApiDocument): Array<{ method: string; path: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, op })),
  );
}

/** The documented operation a concrete request hits: literal paths win over templated ones. */
function operationOf(doc: OpenApiDocument, sample: Sample): { id: string; op: Operation } | null {
  const path = sample.url.split("?")[0] ?? "";
  const candidates = operations(doc)
    .filter((o) => o.method === sample.method.toLowerCase())
    .filter((o) => new RegExp(`^${o.path.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path))
    .sort((a, b) => a.path.split("{").length - b.path.split("{").length);
  const best = candidates[0];
  return best ? { id: `${sample.method} ${best.path}`, op: best.op } : null;
}

function request(sample: Sample, keys: { admin: string; ingest: string }, stripe: Stripe) {
  const who = sample.key ?? "admin";
  const headers: Record<string, string> =
    who === "none" ? {} : { authorization: `Bearer ${keys[who]}` };
  if (sample.body === undefined) return { method: sample.method, url: sample.url, headers };
  const payload = JSON.stringify(sample.body);
  headers["content-type"] = "application/json";
  if (sample.signed) {
    headers["stripe-signature"] = stripe.webhooks.generateTestHeaderString({
      payload,
      secret: WEBHOOK_SECRET,
    });
  }
  return { method: sample.method, url: sample.url, payload, headers };
}
