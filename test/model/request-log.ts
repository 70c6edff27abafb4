/**
 * The emulator's request log for the model test: every request to a usage endpoint as the
 * EMULATOR saw it (its `onUsageRequest` seam), with its arrival time by the emulator's clock,
 * the Meterline event ids it carried and whether the endpoint applied it. No worker writes it.
 */
import type { EndpointGroup, FaultOutcome, UsageRequest } from "../../src/emulator/index.ts";

/** One logged request to a usage endpoint. */
export interface LoggedRequest {
  group: EndpointGroup;
  /** Emulator clock, ms, when it arrived. */
  atMs: number;
  status: number;
  answered: boolean;
  replayed: boolean;
  fault: FaultOutcome;
  /** Whether the endpoint did its work (an event or record accepted), whatever was answered. */
  applied: boolean;
  /**
   * The Meterline event ids it carried: meter event identifiers (the identifier is the event
   * id), or the id a usage record's Idempotency-Key names. Empty when the body was never read.
   */
  ids: string[];
  /** Usage records only: the subscription item and quantity asked for. */
  record: { item: string; quantity: number } | null;
}

const KEY_PREFIX = "meterline-ur-";

/** The event id a usage record's Idempotency-Key names (`meterline-ur-<id>[~<generation>]`). */
export function eventIdOfKey(key: string | null): string | null {
  if (key === null || !key.startsWith(KEY_PREFIX)) return null;
  const rest = key.slice(KEY_PREFIX.length);
  // Event ids never hold "~" (ingest allows A-Za-z0-9._:-): the last one starts the generation.
  const tilde = rest.lastIndexOf("~");
  return tilde < 0 ? rest : rest.slice(0, tilde);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** What one request carried, from its body (and key, for usage records). Pure. */
export function carried(r: UsageRequest): Pick<LoggedRequest, "ids" | "record"> {
  const body = isObject(r.body) ? r.body : null;
  if (r.group === "meter_events") {
    const id = body && typeof body.identifier === "string" ? body.identifier : null;
    return { ids: id === null ? [] : [id], record: null };
  }
  if (r.group === "meter_event_stream") {
    const events = body && Array.isArray(body.events) ? body.events : [];
    const ids = events.flatMap((e) =>
      isObject(e) && typeof e.identifier === "string" ? [e.identifier] : [],
    );
    return { ids, record: null };
  }
  const id = eventIdOfKey(r.idempotencyKey);
  const item = /^\/v1\/subscription_items\/([^/]+)\/usage_records$/.exec(r.path)?.[1];
  if (id === null || item === undefined) return { ids: [], record: null };
  return {
    ids: [id],
    record: { item: decodeURIComponent(item), quantity: Number(body?.quantity ?? Number.NaN) },
  };
}

/** The log, filled by the emulator's observer as requests end. */
export class RequestLog {
  readonly entries: LoggedRequest[] = [];

  /** The observer to give the emulator (`EmulatorDeps.onUsageRequest`). */
  readonly observe = (r: UsageRequest): void => {
    this.entries.push({
      group: r.group,
      atMs: r.atMs,
      status: r.status,
      answered: r.answered,
      replayed: r.replayed,
      fault: r.fault,
      applied: r.applied,
      ...carried(r),
    });
  };
}
