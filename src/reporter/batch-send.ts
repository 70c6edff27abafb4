import { coerceError } from "../lib/errors.ts";
import type { SendItem } from "./admit.ts";
import type { SendResult } from "./sinks/port.ts";

/**
 * Makes one request for a send unit: one event through `send`, several (all of one batch sink)
 * through `sendBatch`. Returns the single answer Stripe gave the request, which holds for every
 * event in it. Never throws.
 */
export async function sendThrough(items: SendItem[]): Promise<SendResult> {
  const [first] = items;
  if (!first) return { kind: "network", message: "empty send unit (a bug)", timeout: false };
  try {
    if (items.length === 1 || !first.sink.sendBatch) return await first.sink.send(first.outbound);
    return await first.sink.sendBatch(items.map((i) => i.outbound));
  } catch (err) {
    // Sinks describe every answer; a throw is a bug, and the request may have gone out.
    return { kind: "network", message: `sink threw: ${coerceError(err).message}`, timeout: false };
  }
}
