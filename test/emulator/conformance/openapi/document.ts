import { readFileSync } from "node:fs";
import { z } from "zod";

/**
 * Stripe's OpenAPI document as the conformance tests read it: the subset copied into
 * test/fixtures/stripe (never ../shared: a user's clone has no such folder) and Meterline's
 * supplement for the legacy usage record summaries, merged.
 */

const FIXTURES = new URL("../../../fixtures/stripe/", import.meta.url);
const FILES = ["openapi-subset.json", "legacy-usage-record-summaries.json"] as const;
const METHODS = ["get", "post", "delete"] as const;

/** A schema object of the document, in its OpenAPI 3.0 dialect. */
export type SchemaNode = Record<string, unknown>;

const schemaNode = z.record(z.string(), z.unknown());
const operationShape = z.object({
  // The subset's responses carry `schema` directly (no `content` map).
  responses: z.record(z.string(), z.object({ schema: schemaNode })),
});
const documentShape = z.object({
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.object({ schemas: z.record(z.string(), schemaNode) }),
});

/** One documented operation: method, path template and the response schema per status. */
export interface Operation {
  /** Upper case, as on the wire. */
  method: string;
  /** The document's path template, e.g. /v1/customers/{customer}. */
  template: string;
  /** Response schemas by status ("200") and "default". */
  responses: Record<string, SchemaNode>;
}

/** The merged document. */
export interface StripeDocument {
  operations: Operation[];
  /** Component schemas by name (billing.meter, error, v2.error, …). */
  schemas: Record<string, SchemaNode>;
}

/** Read and merge the fixture files; a name defined twice is an error, never an override. */
export function loadDocument(): StripeDocument {
  const operations: Operation[] = [];
  const schemas: Record<string, SchemaNode> = {};
  for (const file of FILES) {
    const raw: unknown = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8"));
    const doc = documentShape.parse(raw);
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        if (item[method] === undefined) continue;
        const { responses } = operationShape.parse(item[method]);
        const upper = method.toUpperCase();
        if (operations.some((o) => o.method === upper && o.template === template)) {
          throw new Error(`${file}: ${upper} ${template} is defined twice`);
        }
        operations.push({
          method: upper,
          template,
          responses: Object.fromEntries(Object.entries(responses).map(([k, r]) => [k, r.schema])),
        });
      }
    }
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      if (name in schemas) throw new Error(`${file}: schema ${name} is defined twice`);
      schemas[name] = schema;
    }
  }
  return { operations, schemas };
}

/** A matcher for a path template: each {param} stands for one non-empty path segment. */
function templatePattern(template: string): RegExp {
  const parts = template
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join("[^/]+")}$`);
}

function paramCount(template: string): number {
  return template.split("{").length - 1;
}

/**
 * The documented template a concrete path belongs to, or null. Literal segments beat
 * parameters: the template with the fewest parameters that matches wins.
 */
export function templateOf(doc: StripeDocument, path: string): string | null {
  const templates = [...new Set(doc.operations.map((o) => o.template))]
    .filter((template) => templatePattern(template).test(path))
    .sort((a, b) => paramCount(a) - paramCount(b));
  return templates[0] ?? null;
}

/** The operation documented for this method and path template, or null. */
export function findOperation(
  doc: StripeDocument,
  method: string,
  template: string,
): Operation | null {
  const upper = method.toUpperCase();
  return doc.operations.find((o) => o.method === upper && o.template === template) ?? null;
}

/**
 * A path template in a form both the document's and fastify's syntax reduce to, so routes can
 * be compared with operations: `/v1/customers/{customer}` and `/v1/customers/:id` both become
 * `/v1/customers/{}`.
 */
export function templateShape(template: string): string {
  return template.replace(/\{[^}]+\}/g, "{}").replace(/:[A-Za-z_]\w*/g, "{}");
}
