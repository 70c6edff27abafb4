/**
 * The emulator's request log: every request to a usage endpoint as the emulator saw it, with
 * its arrival time by the EMULATOR's clock (the clock the chaos run moves), what was sent, and
 * whether the endpoint applied it. Recorded through the emulator's `onUsageRequest` seam, so
 * nothing a worker writes goes into it.
 */
import type {
  EndpointGroup,
  FaultOutcome,
  UsageRequest,
  UsageRequestObserver,
} from "../../src/emulator/index.ts";

/** Which Stripe account a request went to: ours, or the one of the wrong key. */
export type Account = "main" | "other";

/** One thing a request sent: a meter event's identifier, or the event behind a usage record's key. */
export interface Sent {
  /** Meter events: the identifier; usage records: the Meterline event id the key names. */
  id: string;
  /** The Stripe customer in the payload (meter events); null for usage records. */
  customer: string | null;
}

/** A usage record as one request asked for it. */
export interface RecordAsked {
  item: string;
  timestamp: number;
  quantity: number;
  /** The key's generation: 0 for `meterline-ur-<id>`, n for `meterline-ur-<id>~<n>`. */
  generation: number;
}

/** One logged request. */
export interface LoggedRequest {
  account: Account;
  group: EndpointGroup;
  /** Emulator clock, ms, at arrival. */
  atMs: number;
  /**
   * Wall clock, ms, at arrival (end time less the request's duration): the order requests were
   * sent in, which the emulator's clock does not give once it was moved back (the storm's).
   */
  wallMs: number;
  status: number;
  answered: boolean;
  replayed: boolean;
  fault: FaultOutcome;
  applied: boolean;
  /** Empty when the body was never read (refused before: 401, 429). */
  sent: Sent[];
  /** Usage records only. */
  record: RecordAsked | null;
}

const KEY_PREFIX = "meterline-ur-";

/** The event id and generation a usage record's Idempotency-Key names; null for another key. */
export function parseUsageRecordKey(key: string | null): { id: string; generation: number } | null {
  if (key === null || !key.startsWith(KEY_PREFIX)) return null;
  const rest = key.slice(KEY_PREFIX.length);
  // Event ids never hold "~" (ingest allows A-Za-z0-9._:-): the last one starts the generation.
  const tilde = rest.lastIndexOf("~");
  if (tilde < 0) return { id: rest, generation: 0 };
  const generation = Number(rest.slice(tilde + 1));
  return Number.isInteger(generation) ? { id: rest.slice(0, tilde), generation } : null;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function customerOf(payload: unknown): string | null {
  return isRecord(payload) && typeof payload.stripe_customer_id === "string"
    ? payload.stripe_customer_id
    : null;
}

/** What one request sent, read from its body (and key, for usage records). Pure. */
export function sentBy(r: UsageRequest): { sent: Sent[]; record: RecordAsked | null } {
  if (r.body === null) return { sent: [], record: null };
  const body = isRecord(r.body) ? r.body : {};
  if (r.group === "meter_events") {
    const id = typeof body.identifier === "string" ? body.identifier : null;
    return { sent: id === null ? [] : [{ id, customer: customerOf(body.payload) }], record: null };
  }
  if (r.group === "meter_event_stream") {
    const events = Array.isArray(body.events) ? body.events : [];
    const sent = events.flatMap((e): Sent[] =>
      isRecord(e) && typeof e.identifier === "string"
        ? [{ id: e.identifier, customer: customerOf(e.payload) }]
        : [],
    );
    return { sent, record: null };
  }
  const key = parseUsageRecordKey(r.idempotencyKey);
  const item = /^\/v1\/subscription_items\/([^/]+)\/usage_records$/.exec(r.path)?.[1];
  if (key === null || item === undefined) return { sent: [], record: null };
  return {
    sent: [{ id: key.id, customer: null }],
    record: {
      item: decodeURIComponent(item),
      timestamp: Number(body.timestamp),
      quantity: Number(body.quantity),
      generation: key.generation,
    },
  };
}

/** The log, filled by the emulators' observers as requests end. */
export class RequestLog {
  readonly entries: LoggedRequest[] = [];
  private readonly listeners: Array<(entry: LoggedRequest) => void> = [];

  /** The observer to give an emulator of `account`. */
  observer(account: Account): UsageRequestObserver {
    return (r) => {
      const entry: LoggedRequest = {
        account,
        group: r.group,
        atMs: r.atMs,
        wallMs: Date.now() - Math.max(0, r.endMs - r.atMs),
        status: r.status,
        answered: r.answered,
        replayed: r.replayed,
        fault: r.fault,
        applied: r.applied,
        ...sentBy(r),
      };
      this.entries.push(entry);
      for (const listener of this.listeners) listener(entry);
    };
  }

  /** Calls `listener` with every request from now on (it must not throw). */
  onEntry(listener: (entry: LoggedRequest) => void): void {
    this.listeners.push(listener);
  }
}
