/**
 * An error the HTTP API answers with: a stable machine `code`, a message naming the field and
 * the rule, and the HTTP status that fits. Thrown anywhere below a route; the app's error
 * handler renders it as `{"error": {"code", "message", "field"?, "errors"?}}`.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field?: string; errors?: ItemError[]; ids?: string[] } = {},
  ) {
    super(message);
  }
}

/** One bad item of a batch: where it is, which field, which rule. */
export interface ItemError {
  index: number;
  field: string;
  code: string;
  message: string;
}

/** Turns anything thrown into an Error, so every catch can read `.message` safely. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === "string" ? err : JSON.stringify(err));
}
