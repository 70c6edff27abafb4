/**
 * What events a phase writes: healthy ones spread over the customers and meters, and poison
 * events of every kind spread evenly through them. Pure: the same world and counts give the
 * same events, so a failing run can be reasoned about.
 */

/** The kinds of poison events, each one a way real producers and operators break an event. */
export const POISON_KINDS = [
  "customer_deleted",
  "timestamp_too_old",
  "identifier_too_long",
  "customer_unlinked",
  "customer_unknown",
] as const;

/** One kind of poison event. */
export type PoisonKind = (typeof POISON_KINDS)[number];

/**
 * The dead-letter code each kind must end with. Four are pre-flight's (no Stripe call); an
 * identifier over 100 characters is refused by Stripe at once with no error code, so the
 * reporter files it as an event-scope rejection.
 */
export const EXPECTED_CODES: Readonly<Record<PoisonKind, string>> = {
  customer_deleted: "customer_deleted",
  timestamp_too_old: "timestamp_too_old",
  identifier_too_long: "event_rejected",
  customer_unlinked: "customer_unlinked",
  customer_unknown: "customer_not_found",
};

/** The customers and meters events may name, by role. */
export interface World {
  /** Event names of the declared, active meters. */
  meters: string[];
  /** Linked, active customers. */
  healthy: string[];
  /** Linked in Stripe, deleted in Meterline. */
  deleted: string[];
  /** Known to Meterline, never linked to Stripe. */
  unlinked: string[];
  /** Keys no customer row has. */
  unknown: string[];
}

/** One event to write, and what it is. */
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
}

const DAY_MS = 24 * 3_600_000;

function pick<T>(list: readonly T[], i: number): T {
  const item = list[i % list.length];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/**
 * Plans `count` events with ids `<prefix>-<n>`. Poison events are spread evenly (one every
 * 1/poisonRate events) and take the kinds in turn, so every kind shows up even in a small run.
 */
export function planEvents(
  world: World,
  {
    count,
    poisonRate,
    prefix,
    now,
  }: { count: number; poisonRate: number; prefix: string; now: Date },
): PlannedEvent[] {
  const t = now.getTime();
  const events: PlannedEvent[] = [];
  let poisoned = 0;
  for (let i = 0; i < count; i++) {
    const healthy = {
      id: `${prefix}-${i}`,
      customerKey: pick(world.healthy, i),
      // Walk the meters once per round of customers, so every (customer, meter) pair gets work.
      eventName: pick(world.meters, Math.floor(i / world.healthy.length)),
      value: (i % 9) + 1,
      // Within the last hour: well inside Stripe's 35 days.
      occurredAt: new Date(t - (i % 3_600) * 1_000),
      poison: null,
    };
    const isPoison = Math.floor((i + 1) * poisonRate) > Math.floor(i * poisonRate);
    if (!isPoison) {
      events.push(healthy);
      continue;
    }
    const kind = pick(POISON_KINDS, poisoned);
    events.push(poisonEvent(world, healthy, kind, poisoned, t));
    poisoned++;
  }
  return events;
}

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
      return { ...event, id: `${event.id}-${"x".repeat(110)}` };
    case "customer_unlinked":
      return { ...event, customerKey: pick(world.unlinked, n) };
    case "customer_unknown":
      return { ...event, customerKey: pick(world.unknown, n) };
  }
}
