import type { SchemaNode } from "./document.ts";

/**
 * Stripe's document speaks OpenAPI 3.0's schema dialect; ajv speaks JSON Schema 2020-12. The
 * differences the document uses, and what becomes of them:
 * - `nullable: true` (3.0 only) → `anyOf: [the schema, {type: "null"}]`; this also covers
 *   nullable enums and nullable anyOf, where 2020-12 has no single keyword;
 * - `$ref: "#/components/schemas/x"` → a reference into the `$defs` of one shared schema;
 * - a stub (`x-meterline-stub`: a schema the subset left out) → `{}`, any value, as the
 *   document's `stubs` list says;
 * - `x-…` extensions → dropped (they describe, never constrain).
 * Everything else (type, enum, required, properties, additionalProperties, items, anyOf, oneOf,
 * maxLength, pattern, format) means the same in both.
 */

/** The `$id` of the schema whose `$defs` hold the document's component schemas. */
export const DEFS_ID = "urn:meterline:stripe-openapi";

const COMPONENT_REF = "#/components/schemas/";

/** Convert a schema object of the document (and everything below it). */
export function convertSchema(schema: SchemaNode): SchemaNode {
  const converted = toJsonSchema(schema);
  if (!isSchemaNode(converted)) throw new Error("a schema object converts to an object");
  return converted;
}

function isSchemaNode(value: unknown): value is SchemaNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Convert any part of a schema: objects key by key, arrays item by item, values as they are. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isSchemaNode(node)) return node;
  if ("x-meterline-stub" in node) return {};
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") || key === "nullable") continue;
    if (key === "enum") {
      // Enum values are data, kept as they are.
      out.enum = value;
    } else if (key === "$ref" && typeof value === "string" && value.startsWith(COMPONENT_REF)) {
      out.$ref = `${DEFS_ID}#/$defs/${value.slice(COMPONENT_REF.length)}`;
    } else if (key === "properties" && isSchemaNode(value)) {
      // Property names are data, not keywords: convert the schemas below them only.
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, schema]) => [name, toJsonSchema(schema)]),
      );
    } else {
      out[key] = toJsonSchema(value);
    }
  }
  return node.nullable === true ? { anyOf: [out, { type: "null" }] } : out;
}
