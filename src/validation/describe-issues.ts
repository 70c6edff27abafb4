import type { z } from "zod";
import { ItemErrorCode } from "../lib/error-codes.ts";
import type { ItemError } from "../lib/errors.ts";
import { ItemErrorList } from "./item-error-list.ts";
import { suggestion } from "./suggest-field.ts";
import { textFault } from "./text.ts";

/** One zod issue, as `safeParse` reports it. */
type Issue = z.ZodError["issues"][number];

/** Longest field name an error repeats as sent; a longer (unknown) one is cut, so answers stay small. */
const SHOWN_NAME = 100;

/** Where an object sits in the request body, for messages: `events[3].` or "" for the body itself. */
export interface ItemPlace {
  index: number;
  /** Prepended to field names: "events[3]." in a batch, "" for a lone object. */
  prefix: string;
  /** The sentence that follows the field name when its rule is broken ("must be …"). */
  rules: Readonly<Record<string, string>>;
}

/**
 * Turns zod issues on one JSON object into item errors that name the field and its rule, added
 * to `into` (a fresh list when none is given, returned either way). The message is ours, not
 * zod's: a producer reads "events[3].value must be a whole number ≥ 0", whatever the exact way the
 * value broke it. One error per field, in the order zod found them. Once the list is full the
 * rest are counted, not described.
 */
export function describeIssues(
  issues: readonly Issue[],
  input: unknown,
  place: ItemPlace,
  into: ItemErrorList = new ItemErrorList(),
): ItemErrorList {
  const seen = new Set<string>();
  const known = Object.keys(place.rules);
  const { index, prefix, rules } = place;
  for (const issue of issues) {
    const key = issue.path[0];
    if (issue.code === "unrecognized_keys") {
      // Unknown keys are distinct, and distinct from known ones: no need to dedupe them.
      for (const [i, unknown] of issue.keys.entries()) {
        if (into.full) {
          into.count(issue.keys.length - i);
          break;
        }
        into.add(() => {
          const field = `${prefix}${shownName(unknown)}`;
          return {
            index,
            field,
            code: ItemErrorCode.unknown_field,
            message: `${field} is not a known field${suggestion(unknown, known)} (known: ${known.join(", ")})`,
          };
        });
      }
    } else if (typeof key === "string" && key in rules) {
      if (seen.has(key)) continue;
      seen.add(key);
      into.add(() => knownFieldError(key, input, place));
    } else {
      // Only a non-object reaches here: every key of an object is either known or unrecognized.
      if (seen.has("")) continue;
      seen.add("");
      const field = prefix === "" ? "body" : prefix.slice(0, -1);
      into.add(() => ({
        index,
        field,
        code: ItemErrorCode.invalid_type,
        message: `${field} must be a JSON object`,
      }));
    }
  }
  return into;
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The error of a known field: missing, holding what Postgres cannot store, or breaking its rule. */
function knownFieldError(key: string, input: unknown, place: ItemPlace): ItemError {
  const field = `${place.prefix}${key}`;
  const present = isObject(input) && Object.hasOwn(input, key);
  if (!present) {
    return {
      index: place.index,
      field,
      code: ItemErrorCode.required,
      message: `${field} is required`,
    };
  }
  const value = input[key];
  const fault = typeof value === "string" ? textFault(value) : null;
  return fault === null
    ? {
        index: place.index,
        field,
        code: ItemErrorCode.invalid_value,
        message: `${field} ${place.rules[key]}`,
      }
    : {
        index: place.index,
        field,
        code: ItemErrorCode.invalid_characters,
        message: `${field} ${fault}`,
      };
}

/** A field name as errors show it: as sent, or its first characters when it is very long. */
export function shownName(name: string): string {
  return name.length > SHOWN_NAME ? `${name.slice(0, SHOWN_NAME)}…` : name;
}
