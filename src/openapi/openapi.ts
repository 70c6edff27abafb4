import { z } from "zod";
import { ErrorCode } from "../lib/error-codes.ts";
import { errorBodySchema } from "./error-schema.ts";
import type { BookedRoute } from "./route-book.ts";
import type { RouteDoc } from "./route-doc.ts";

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

/** The OpenAPI 3.1 document, as much of it as the docs page reads. */
export interface OpenApiDocument {
  openapi: "3.1.1";
  info: { title: string; version: string; description: string };
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, JsonSchema>;
  };
}

/** One operation (a method on a path). */
export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: { "application/json": { schema: JsonSchema } } };
  responses: Record<string, Response>;
  /** The key role the route needs; absent when it needs none. */
  "x-role"?: string;
}

/** A path or query parameter. */
export interface Parameter {
  name: string;
  in: "path" | "query";
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

/** One status's answer. */
export interface Response {
  description: string;
  content: { "application/json": { schema: JsonSchema } };
}

const DESCRIPTION =
  "Usage events in, Stripe usage billing out: every event billed exactly once or dead-lettered " +
  "with a reason. Every /v1 route needs an API key (`Authorization: Bearer <secret>`, made with " +
  "`meterline keys create`); ingest routes take an ingest or an admin key, the others an admin " +
  'key. Every error answer has one shape, `{"error": {"code", "message", …}}`, and `code` is ' +
  "stable: branch on it, show `message` to people.";

/**
 * Builds the OpenAPI 3.1 document of the documented routes. Pure: the same routes give the same
 * document. Undocumented routes are left out (the contract test lists them).
 */
export function openApiDocument(routes: readonly BookedRoute[], version: string): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  const tags = new Set<string>();
  for (const route of routes) {
    if (route.doc === null) continue;
    const path = openApiPath(route.url);
    const methods = paths[path] ?? {};
    methods[route.method.toLowerCase()] = operation(route, route.doc);
    paths[path] = methods;
    tags.add(route.doc.tag);
  }
  return {
    openapi: "3.1.1",
    info: { title: "Meterline API", version, description: DESCRIPTION },
    tags: [...tags].sort((a, b) => tagRank(a) - tagRank(b)).map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: jsonSchema(errorBodySchema, "output", {}) },
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "A Meterline API key" },
      },
    },
  };
}

/** The reference's order: what producers call first, then setup, then operations. */
const TAG_ORDER = ["Events", "Customers", "Meters", "Dead letters", "Reconciliation"];

/** A tag's place in the reference; tags not listed come last, in registration order. */
function tagRank(tag: string): number {
  const i = TAG_ORDER.indexOf(tag);
  return i === -1 ? TAG_ORDER.length : i;
}

/** `/v1/customers/:key` → `/v1/customers/{key}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function operation(route: BookedRoute, doc: RouteDoc): Operation {
  const path = openApiPath(route.url);
  const rules = doc.rules ?? {};
  const parameters = [
    ...parametersOf(doc.params, "path", rules),
    ...parametersOf(doc.query, "query", rules),
  ];
  const op: Operation = {
    operationId: operationId(route.method, path),
    summary: doc.summary,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    tags: [doc.tag],
    ...(route.role !== null ? { security: [{ apiKey: [] }], "x-role": route.role } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: {},
  };
  if (doc.body !== undefined) {
    op.requestBody = {
      required: true,
      content: { "application/json": { schema: jsonSchema(doc.body, "input", rules) } },
    };
  }
  for (const [status, schema] of Object.entries(doc.responses)) {
    op.responses[status] = {
      description: successText(Number(status)),
      content: { "application/json": { schema: jsonSchema(schema, "output", {}) } },
    };
  }
  for (const [status, codes] of errorsOf(route, doc)) {
    op.responses[String(status)] = {
      description: codes.join(", "),
      content: { "application/json": { schema: errorWithCodes(codes) } },
    };
  }
  return op;
}

/**
 * The route's refusals by status: its own, and those every route of its kind shares (a key
 * check, a JSON body, text Postgres cannot store, a server fault), in status order.
 */
export function errorsOf(route: BookedRoute, doc: RouteDoc): Array<[number, string[]]> {
  const byStatus = new Map<number, Set<string>>();
  const add = (status: number, ...codes: string[]) => {
    const set = byStatus.get(status) ?? new Set<string>();
    for (const code of codes) set.add(code);
    byStatus.set(status, set);
  };
  for (const [status, codes] of Object.entries(doc.errors ?? {})) add(Number(status), ...codes);
  if (doc.params !== undefined || doc.query !== undefined || doc.body !== undefined) {
    // http/text-guard.ts: every parameter and body string, before the route runs.
    add(400, ErrorCode.invalid_characters);
  }
  if (doc.body !== undefined) {
    // http/json-body.ts and fastify's body limit.
    add(400, ErrorCode.invalid_json);
    add(413, ErrorCode.body_too_large);
    add(415, ErrorCode.unsupported_media_type);
  }
  if (route.role !== null) add(401, ErrorCode.unauthorized);
  // An ingest route takes an admin key too; an admin route refuses an ingest key.
  if (route.role === "admin") add(403, ErrorCode.forbidden);
  add(500, ErrorCode.internal_error);
  add(503, ErrorCode.service_unavailable);
  return [...byStatus.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, codes]) => [status, [...codes]]);
}

/** The error envelope (components.schemas.Error), its `code` one of `codes`. */
function errorWithCodes(codes: readonly string[]): JsonSchema {
  return {
    allOf: [
      { $ref: "#/components/schemas/Error" },
      {
        type: "object",
        properties: {
          error: { type: "object", properties: { code: { type: "string", enum: codes } } },
        },
      },
    ],
  };
}

function parametersOf(
  shape: z.ZodObject | undefined,
  where: "path" | "query",
  rules: Readonly<Record<string, string>>,
): Parameter[] {
  if (shape === undefined) return [];
  const schema = jsonSchema(shape, "input", rules);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * A zod schema as JSON Schema 2020-12: `input` for what a client sends (defaults make a field
 * optional), `output` for what the API answers. Refinements JSON Schema cannot say (text
 * Postgres can store, a duration's syntax) are in the field's rule, which becomes its
 * description.
 */
export function jsonSchema(
  schema: z.ZodType,
  io: "input" | "output",
  rules: Readonly<Record<string, string>>,
): JsonSchema {
  const { $schema: _, ...json } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as JsonSchema;
  describeFields(json, rules);
  return json;
}

/** Gives every property named in `rules` (at any depth) its rule as description, unless it has one. */
function describeFields(node: unknown, rules: Readonly<Record<string, string>>): void {
  if (Array.isArray(node)) {
    for (const item of node) describeFields(item, rules);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const record = node as JsonSchema;
  const properties = record.properties as Record<string, JsonSchema> | undefined;
  if (properties !== undefined) {
    for (const [name, property] of Object.entries(properties)) {
      const rule = rules[name];
      if (rule !== undefined && property.description === undefined) {
        property.description = `${name} ${rule}`;
      }
    }
  }
  for (const value of Object.values(record)) describeFields(value, rules);
}

function operationId(method: string, path: string): string {
  const words = path
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "")
    .map((w) => `${w.charAt(0).toUpperCase()}${w.slice(1)}`);
  return `${method.toLowerCase()}${words.join("")}`;
}

function successText(status: number): string {
  if (status === 201) return "Created";
  if (status === 202) return "Accepted";
  return "OK";
}
