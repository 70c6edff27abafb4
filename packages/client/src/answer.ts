import type { ServerErrorBody, ServerItemError } from "./errors.ts";

/** What to do with a batch after the server's answer. */
export type Verdict =
  | { kind: "accepted" }
  /** Send the same batch again later: nothing of it is known to be wrong. */
  | { kind: "retry"; status: number; message: string; retryAfterMs: number | null }
  /** These items are refused for good; the rest of the batch was not stored and goes again. */
  | { kind: "reject"; status: number; errors: ServerItemError[] }
  /** Too big for the server: send it in halves. */
  | { kind: "split"; status: number; message: string }
  /** Refused as a whole for a reason about the request, not its events: keep them, retry later. */
  | { kind: "refused"; status: number; code: string; message: string; retryAfterMs: number | null };

/**
 * Reads one answer to POST /v1/events. Only a refusal that names items (by index) drops
 * events, and only those items: the server stores a batch all or nothing, so the others are
 * sent again. Everything else keeps the batch. Pure.
 */
export function judge(status: number, body: unknown, retryAfterMs: number | null): Verdict {
  if (status >= 200 && status < 300) return { kind: "accepted" };
  const error = (body as ServerErrorBody | null)?.error;
  const message = error?.message ?? `HTTP ${status}`;
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: "retry", status, message, retryAfterMs };
  }
  if (status === 413) return { kind: "split", status, message };
  const items = (error?.errors ?? []).filter((e) => Number.isInteger(e?.index));
  if ((status === 400 || status === 409 || status === 422) && items.length > 0) {
    return { kind: "reject", status, errors: items };
  }
  return { kind: "refused", status, code: error?.code ?? `http_${status}`, message, retryAfterMs };
}
