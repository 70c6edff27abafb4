import type { ItemErrorCode } from "./error-codes.ts";

/** What an ApiError carries beyond its message: the field, the item errors, the ids at fault. */
export interface ApiErrorDetails {
  field?: string;
  errors?: ItemError[];
  /** True when `errors` lists only the first of more errors (see `totalErrors`). */
  truncated?: boolean;
  /** How many item errors there were in all, when `errors` is truncated. */
  totalErrors?: number;
  ids?: string[];
}

/**
 * An error the HTTP API answers with: a stable machine `code` (one of ErrorCode, in
 * error-codes.ts), a message naming the field and the rule, and the HTTP status that fits.
 * Thrown anywhere below a route; the app's error handler renders it as
 * `{"error": {"code", "message", "field"?, "errors"?, "truncated"?, "total_errors"?}}`.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorDetails = {},
  ) {
    super(message);
  }
}

/** One bad item of a batch: where it is, which field, which rule. */
export interface ItemError {
  index: number;
  field: string;
  code: ItemErrorCode;
  message: string;
}

/** Turns anything thrown into an Error, so every catch can read `.message` safely. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === "string" ? err : JSON.stringify(err));
}
