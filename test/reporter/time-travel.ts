import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import type { RunningEmulator } from "../../src/emulator/index.ts";

/**
 * Lets `hours` pass for the outbox and for Stripe at once: every stored time of every usage
 * event (whatever columns the schema has) but its own time (occurred_at) moves that far into the
 * past, and the emulator's clock that far forward. The database's own clock cannot be moved; this is the same thing seen from
 * the rows. Leases expire, waits end, and Stripe's 24 h dedup forgets what it saw.
 */
export async function letHoursPass(db: Db, emu: RunningEmulator, hours: number): Promise<void> {
  const columns = await rows<{ name: string }>(
    db,
    sql`select column_name as name from information_schema.columns
        where table_name = 'usage_events' and data_type = 'timestamp with time zone'
          -- The event's own time never changes: it is what Stripe was told.
          and column_name <> 'occurred_at'`,
  );
  const shifts = columns.map(
    (c) =>
      sql`${sql.identifier(c.name)} = ${sql.identifier(c.name)} - ${hours}::float8 * interval '1 hour'`,
  );
  await db.execute(sql`update usage_events set ${sql.join(shifts, sql`, `)}`);
  emu.advanceClock(Math.round(hours * 3600));
}
