import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { type DeliveryMode, deliveryModes, type Meter, meters } from "../db/schema/meters.ts";
import { METER_WAITS, wakeWaiting } from "../outbox/wake.ts";

/** What a PUT may say about a meter. Absent fields are left as they are (or defaulted on create). */
export interface MeterChange {
  /** Stripe's meter id (`mtr_…`), or null to clear it. */
  stripeMeterId?: string | null | undefined;
  status?: "active" | "inactive" | undefined;
  deliveryMode?: DeliveryMode | undefined;
  customerPayloadKey?: string | undefined;
  valuePayloadKey?: string | undefined;
}

/** A meter as the API shows it (snake_case, ISO times). */
export const meterViewSchema = z.object({
  event_name: z.string(),
  stripe_meter_id: z.string().nullable().describe("Stripe's meter (mtr_…)"),
  status: z.enum(["active", "inactive"]).describe("An inactive meter's events wait, unsent"),
  delivery_mode: z.enum(deliveryModes),
  customer_payload_key: z.string(),
  value_payload_key: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** A meter as the API shows it (snake_case, ISO times). */
export type MeterView = z.infer<typeof meterViewSchema>;

/** Renders a meter row for the API. */
export function meterView(m: Meter): MeterView {
  return {
    event_name: m.eventName,
    stripe_meter_id: m.stripeMeterId,
    status: m.status,
    delivery_mode: m.deliveryMode,
    customer_payload_key: m.customerPayloadKey,
    value_payload_key: m.valuePayloadKey,
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
  };
}

/** The columns a change sets: only the fields it mentions. Pure. */
export function meterColumns(change: MeterChange): Partial<Meter> {
  const columns: Partial<Meter> = {};
  if (change.stripeMeterId !== undefined) columns.stripeMeterId = change.stripeMeterId;
  if (change.status !== undefined) columns.status = change.status;
  if (change.deliveryMode !== undefined) columns.deliveryMode = change.deliveryMode;
  if (change.customerPayloadKey !== undefined)
    columns.customerPayloadKey = change.customerPayloadKey;
  if (change.valuePayloadKey !== undefined) columns.valuePayloadKey = change.valuePayloadKey;
  return columns;
}

/**
 * Declares a meter or updates the fields a PUT names; `created` says which. Insert-first, so
 * two concurrent declarations of one meter cannot both create it.
 */
export async function putMeter(
  db: Db,
  eventName: string,
  change: MeterChange,
): Promise<{ meter: Meter; created: boolean }> {
  const result = await storeMeter(db, eventName, change);
  // Events parked for want of this meter go on the next claim, not after their re-check.
  if (result.meter.status === "active") {
    await wakeWaiting(db, { eventName }, METER_WAITS);
  }
  return result;
}

async function storeMeter(
  db: Db,
  eventName: string,
  change: MeterChange,
): Promise<{ meter: Meter; created: boolean }> {
  const columns = meterColumns(change);
  return db.transaction(async (tx) => {
    const [inserted] = await tx
      .insert(meters)
      .values({ ...columns, eventName })
      .onConflictDoNothing({ target: meters.eventName })
      .returning();
    if (inserted) return { meter: inserted, created: true };
    if (Object.keys(columns).length === 0) {
      const [current] = await tx.select().from(meters).where(eq(meters.eventName, eventName));
      if (current === undefined) throw new Error(`meter ${eventName} vanished during its update`);
      return { meter: current, created: false };
    }
    const [updated] = await tx
      .update(meters)
      .set({ ...columns, updatedAt: sql`now()` })
      .where(eq(meters.eventName, eventName))
      .returning();
    if (updated === undefined) throw new Error(`meter ${eventName} vanished during its update`);
    return { meter: updated, created: false };
  });
}

/** The meter for this event name, or null. */
export async function getMeter(db: Db, eventName: string): Promise<Meter | null> {
  const [row] = await db.select().from(meters).where(eq(meters.eventName, eventName));
  return row ?? null;
}

/** Every meter, by event name. */
export async function listMeters(db: Db): Promise<Meter[]> {
  return db.select().from(meters).orderBy(asc(meters.eventName));
}
