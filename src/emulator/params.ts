import {
  invalidInteger,
  invalidRequest,
  parameterMissing,
  parameterUnknown,
  stringTooLong,
} from "./errors.ts";

/**
 * Readers for Stripe's form-encoded parameters, after `qs` has turned `payload[value]=3` into
 * `{payload: {value: "3"}}`. Every value arrives as a string (or a nested object); Stripe reads
 * an empty string as "not given", and so do these.
 */

/** A parsed request body or query string. */
export type Params = Record<string, unknown>;

/** The body (or query) as a plain object; anything else counts as empty. */
export function asParams(value: unknown): Params {
  return isRecord(value) ? value : {};
}

/** Whether `value` is a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Params {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `:id` path parameter of a route (empty when absent, which no object id matches). */
export function pathId(routeParams: unknown): string {
  const id = asParams(routeParams).id;
  return typeof id === "string" ? id : "";
}

/** Reject parameters the endpoint does not take, as Stripe does (`parameter_unknown`). */
export function rejectUnknown(params: Params, allowed: readonly string[], prefix = ""): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw parameterUnknown(prefix ? `${prefix}[${key}]` : key);
  }
}

/** An optional string parameter; `maxLength` gives Stripe's "Invalid string" error. */
export function optionalString(
  params: Params,
  name: string,
  opts: { maxLength?: number; param?: string } = {},
): string | undefined {
  const param = opts.param ?? name;
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string") throw invalidRequest(`Invalid string: ${param}`, { param });
  if (opts.maxLength !== undefined && value.length > opts.maxLength) {
    throw stringTooLong(param, value, opts.maxLength);
  }
  return value;
}

/** A required string parameter (`parameter_missing` when absent or empty). */
export function requiredString(
  params: Params,
  name: string,
  opts: { maxLength?: number; param?: string } = {},
): string {
  const value = optionalString(params, name, opts);
  if (value === undefined) throw parameterMissing(opts.param ?? name);
  return value;
}

/** An optional integer parameter (`parameter_invalid_integer` when not a whole number). */
export function optionalInteger(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  const text = String(value);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw invalidInteger(name, text);
  }
  return Number(text);
}

/** One of a fixed set of strings, with Stripe's "must be one of" message. */
export function optionalEnum<T extends string>(
  params: Params,
  name: string,
  values: readonly T[],
  param = name,
): T | undefined {
  const value = optionalString(params, name, { param });
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) {
    throw invalidRequest(`Invalid ${param}: must be one of ${values.join(", ")}`, { param });
  }
  return value as T;
}

/** An optional nested object (`customer_mapping[...]`), validated as an object. */
export function optionalObject(params: Params, name: string): Params | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (!isRecord(value)) throw invalidRequest(`Invalid object`, { param: name });
  return value;
}

/** A string-to-string map such as `metadata` or a meter event `payload`. */
export function optionalStringMap(
  params: Params,
  name: string,
): Record<string, string> | undefined {
  const value = optionalObject(params, name);
  if (value === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw invalidRequest(`Invalid ${name}[${key}]: must be a string`, {
        param: `${name}[${key}]`,
      });
    }
    out[key] = v;
  }
  return out;
}
