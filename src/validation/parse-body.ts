import type { z } from "zod";
import { ErrorCode } from "../lib/error-codes.ts";
import { describeIssues } from "./describe-issues.ts";
import { listError } from "./item-error-list.ts";

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
  throw listError(ErrorCode.invalid_body, errors.listed, errors.total);
}
