import type { z } from "zod";
import { ApiError, type ItemError } from "../lib/errors.ts";

/** One zod issue, as `safeParse` reports it. */
type Issue = z.ZodError["issues"][number];

/** Where an object sits in the request body, for messages: `events[3].` or "" for the body itself. */
export interface ItemPlace {
  index: number;
  /** Prepended to field names: "events[3]." in a batch, "" for a lone object. */
  prefix: string;
  /** The sentence that follows the field name when its rule is broken ("must be …"). */
  rules: Readonly<Record<string, string>>;
}

/**
 * Turns zod issues on one JSON object into item errors that name the field and its rule. The
 * message is ours, not zod's: a producer reads "events[3].value must be a whole number ≥ 0",
 * whatever the exact way the value broke it. One error per field, in the order zod found them.
 */
export function describeIssues(
  issues: readonly Issue[],
  input: unknown,
  place: ItemPlace,
): ItemError[] {
  const errors: ItemError[] = [];
  const seen = new Set<string>();
  const push = (error: ItemError) => {
    if (seen.has(error.field)) return;
    seen.add(error.field);
    errors.push(error);
  };
  const known = Object.keys(place.rules);
  for (const issue of issues) {
    const key = issue.path[0];
    if (issue.code === "unrecognized_keys") {
      for (const unknown of issue.keys) {
        const field = `${place.prefix}${unknown}`;
        push({
          index: place.index,
          field,
          code: "unknown_field",
          message: `${field} is not a known field${suggestion(unknown, known)} (known: ${known.join(", ")})`,
        });
      }
    } else if (typeof key === "string" && key in place.rules) {
      const field = `${place.prefix}${key}`;
      const present = isObject(input) && Object.hasOwn(input, key);
      push({
        index: place.index,
        field,
        code: present ? "invalid_value" : "required",
        message: present ? `${field} ${place.rules[key]}` : `${field} is required`,
      });
    } else {
      // Only a non-object reaches here: every key of an object is either known or unrecognized.
      const field = place.prefix === "" ? "body" : place.prefix.slice(0, -1);
      push({
        index: place.index,
        field,
        code: "invalid_type",
        message: `${field} must be a JSON object`,
      });
    }
  }
  return errors;
}

/**
 * Parses a JSON request body with a strict zod schema, or throws 400 `invalid_body` naming every
 * bad field. A missing body counts as `{}`, so a PUT that changes nothing needs no body.
 */
export function parseBody<T>(
  schema: z.ZodType<T>,
  body: unknown,
  rules: Readonly<Record<string, string>>,
): T {
  const input = body === undefined ? {} : body;
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const errors = describeIssues(parsed.error.issues, input, { index: 0, prefix: "", rules });
  throw new ApiError(400, "invalid_body", errors.map((e) => e.message).join("; "), {
    ...(errors[0] ? { field: errors[0].field } : {}),
    errors,
  });
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** "; did you mean event_name?" when a known field is a typo or two away, or a truncation of it. */
function suggestion(unknown: string, known: readonly string[]): string {
  const typed = unknown.toLowerCase();
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const d = distance(typed, name);
    const truncated = typed.length >= 4 && (name.startsWith(typed) || typed.startsWith(name));
    if ((d <= 2 || truncated) && d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best === null ? "" : `; did you mean ${best}?`;
}

/** Levenshtein distance; inputs are field names, so the quadratic cost is nothing. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
