import type { z } from "zod";
import { ErrorCode } from "../lib/error-codes.ts";
import { describeIssues } from "./describe-issues.ts";
import { listError } from "./item-error-list.ts";

/** Parses a query string with a strict zod schema, or throws 400 `invalid_query` naming each bad parameter. */
export function parseQuery<T>(
  schema: z.ZodType<T>,
  query: unknown,
  rules: Readonly<Record<string, string>>,
): T {
  const parsed = schema.safeParse(query ?? {});
  if (parsed.success) return parsed.data;
  const errors = describeIssues(parsed.error.issues, query, { index: 0, prefix: "", rules });
  throw listError(ErrorCode.invalid_query, errors.listed, errors.total);
}
