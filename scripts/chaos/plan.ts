/**
 * What events a phase writes: healthy ones spread over the customers and the six meters (two per
 * delivery mode), and poison events of every kind spread evenly through them. Pure: the same
 * world and counts give the same events, so a failing run can be reasoned about.
 */
import type { DeliveryMode } from "../../src/db/schema/meters.ts";

/** The chaos run's meters: two per delivery mode, so each mode has (customer, meter) pairs in parallel. */
export const CHAOS_METERS: ReadonlyArray<{ eventName: string; mode: DeliveryMode }> = [
  { eventName: "chaos_calls_v1", mode: "meter_events" },
  { eventName: "chaos_calls_stream", mode: "meter_stream" },
  { eventName: "chaos_seats_records", mode: "usage_records" },
  { eventName: "chaos_tokens_v1", mode: "meter_events" },
  { eventName: "chaos_tokens_stream", mode: "meter_stream" },
  { eventName: "chaos_minutes_records", mode: "usage_records" },
];

/** The delivery mode of a chaos meter's event name. */
export function modeOf(eventName: string): DeliveryMode {
  const meter = CHAOS_METERS.find((m) => m.eventName === eventName);
  if (!meter) throw new Error(`not a chaos meter: ${eventName}`);
  return meter.mode;
}

const byMode = (mode: DeliveryMode) =>
  CHAOS_METERS.filter((m) => m.mode === mode).map((m) => m.eventName);
/** Event names of the meters Stripe validates after its 200 (v1 and stream). */
export const METER_EVENT_METERS = [...byMode("meter_events"), ...byMode("meter_stream")];
/** Event names of the usage-record meters. */
export const USAGE_RECORD_METERS = byMode("usage_records");
/** Event names of the v1 meters (the storm phase's). */
export const V1_METERS = byMode("meter_events");

/** The kinds of poison events, each one a way real producers, operators and Stripe break an event. */
export const POISON_KINDS = [
  "customer_deleted",
  "timestamp_too_old",
  "identifier_too_long",
  "customer_unlinked",
  "customer_unknown",
  /** Deleted in Stripe, still linked in Meterline: Stripe accepts, then rejects in a thin event. */
  "customer_deleted_in_stripe",
  /** The customer's usage-record subscription item is gone: 404, customer scope. */
  "subscription_item_gone",
] as const;

/** One kind of poison event. */
export type PoisonKind = (typeof POISON_KINDS)[number];

/** The kinds written at --poison-rate, in turn; the last two have rates of their own. */
const PREFLIGHT_KINDS: readonly PoisonKind[] = POISON_KINDS.slice(0, 5);

/**
 * The dead-letter code each kind must end with. Four are pre-flight's (no Stripe call); an
 * identifier over 100 characters is failed by pre-flight for the stream (one such identifier
 * would sink the whole request) and refused by Stripe at once, without an error code, for v1.
 */
export function expectedCode(kind: PoisonKind, mode: DeliveryMode): string {
  switch (kind) {
    case "identifier_too_long":
      return mode === "meter_stream" ? "identifier_too_long" : "event_rejected";
    case "customer_unknown":
      return "customer_not_found";
    case "customer_deleted_in_stripe":
      return "meter_event_customer_not_found";
    case "subscription_item_gone":
      return "resource_missing";
    default:
      return kind;
  }
}

/** The customers events may name, by role. */
export interface World {
  /** Linked, active customers with a subscription item per usage-record meter. */
  healthy: string[];
  /** Linked in Stripe, deleted in Meterline. */
  deleted: string[];
  /** Known to Meterline, never linked to Stripe. */
  unlinked: string[];
  /** Keys no customer row has. */
  unknown: string[];
  /** Linked in Meterline to Stripe customers deleted in Stripe. */
  deletedInStripe: string[];
  /** Linked and live, but Meterline's subscription items for them name items Stripe does not have. */
  itemGone: string[];
  /** Stripe customer id of every linked customer, by key. */
  stripeIds: ReadonlyMap<string, string>;
}

/** Which phase wrote an event. */
export type PhaseName = "main" | "storm" | "wrong_account" | "clean";

/** One event to write, and what must become of it. */
export interface PlannedEvent {
  /** The producer's id, and so the Stripe identifier. */
  id: string;
  /** Meterline's customer key. */
  customerKey: string;
  /** The meter's event name. */
  eventName: string;
  /** Whole number, 1 to 9. */
  value: number;
  /** When it happened: what Stripe is told. */
  occurredAt: Date;
  /** Null for a healthy event. */
  poison: PoisonKind | null;
  /** The phase that writes it. */
  phase: PhaseName;
  /** True when it goes through POST /v1/events instead of straight into the table. */
  viaApi: boolean;
}

/** What a phase's plan mixes in. */
export interface PlanSpec {
  count: number;
  prefix: string;
  phase: PhaseName;
  now: Date;
  /** Meters the healthy events walk; default all six. */
  meters?: readonly string[];
  /** Shares of the kinds; 0 when absent. */
  poisonRate?: number;
  asyncRate?: number;
  itemGoneRate?: number;
  /** How far back occurred_at spreads, seconds (default an hour). */
  spreadSeconds?: number;
}

function pick<T>(list: readonly T[], i: number): T {
  const item = list[i % list.length];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/** True for the events at `rate`, spread evenly: one every 1/rate events, `offset` apart. */
function every(i: number, rate: number, offset: number): boolean {
  if (rate <= 0) return false;
  const j = i + offset;
  return Math.floor((j + 1) * rate) > Math.floor(j * rate);
}

/**
 * Plans `count` events with ids `<prefix>-<n>`. Poison events are spread evenly and take their
 * kinds in turn, so every kind shows up even in a small run. Events of customers deleted in
 * Stripe are spread thin on purpose: Stripe names at most five sample identifiers per code and
 * meter in one error report, and the run must keep every rejection named.
 */
export function planEvents(world: World, spec: PlanSpec): PlannedEvent[] {
  const t = spec.now.getTime();
  const meters = spec.meters ?? CHAOS_METERS.map((m) => m.eventName);
  const spread = spec.spreadSeconds ?? 3_600;
  const events: PlannedEvent[] = [];
  const counts = { poison: 0, async: 0, itemGone: 0 };
  for (let i = 0; i < spec.count; i++) {
    const base: PlannedEvent = {
      id: `${spec.prefix}-${i}`,
      customerKey: pick(world.healthy, i),
      // Walk the meters once per round of customers, so every (customer, meter) pair gets work.
      eventName: pick(meters, Math.floor(i / world.healthy.length)),
      value: (i % 9) + 1,
      occurredAt: new Date(t - (i % spread) * 1_000),
      poison: null,
      phase: spec.phase,
      viaApi: false,
    };
    if (every(i, spec.asyncRate ?? 0, 7)) {
      const n = counts.async++;
      events.push({
        ...base,
        id: `${base.id}-poison-deleted-in-stripe`,
        customerKey: pick(world.deletedInStripe, n),
        eventName: pick(METER_EVENT_METERS, Math.floor(n / world.deletedInStripe.length)),
        poison: "customer_deleted_in_stripe",
      });
    } else if (every(i, spec.itemGoneRate ?? 0, 13)) {
      const n = counts.itemGone++;
      events.push({
        ...base,
        id: `${base.id}-poison-item-gone`,
        customerKey: pick(world.itemGone, n),
        eventName: pick(USAGE_RECORD_METERS, Math.floor(n / world.itemGone.length)),
        poison: "subscription_item_gone",
      });
    } else if (every(i, spec.poisonRate ?? 0, 0)) {
      const kind = pick(PREFLIGHT_KINDS, counts.poison);
      events.push(poisonEvent(world, base, kind, counts.poison, t));
      counts.poison++;
    } else {
      events.push(base);
    }
  }
  return events;
}

const DAY_MS = 24 * 3_600_000;

function poisonEvent(
  world: World,
  base: PlannedEvent,
  kind: PoisonKind,
  n: number,
  t: number,
): PlannedEvent {
  const event = { ...base, id: `${base.id}-poison-${kind}`, poison: kind };
  switch (kind) {
    case "customer_deleted":
      return { ...event, customerKey: pick(world.deleted, n) };
    case "timestamp_too_old":
      return { ...event, occurredAt: new Date(t - 40 * DAY_MS) };
    case "identifier_too_long":
      // As an old producer writing straight into the table would: ingest refuses such ids.
      // Usage records carry no identifier (the key is hashed), so such an event goes to a meter.
      return {
        ...event,
        id: `${event.id}-${"x".repeat(110)}`,
        eventName: pick(METER_EVENT_METERS, n),
      };
    case "customer_unlinked":
      return { ...event, customerKey: pick(world.unlinked, n) };
    case "customer_unknown":
      return { ...event, customerKey: pick(world.unknown, n) };
    default:
      return event;
  }
}
