import { z } from "zod";
import { loadConfig } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { openConfiguredDatabase } from "../system.ts";
import { explainingFailures } from "./startup-failure.ts";
import { parseFlags } from "./usage-error.ts";

const HELP = `Usage: meterline migrate

Applies pending database migrations (DATABASE_URL, or PGlite in METERLINE_DATA_DIR) and exits.
Safe to run from several processes at once: they take turns on an advisory lock.`;

/** `meterline migrate`: apply migrations and exit. */
export async function cmdMigrate(args: string[]): Promise<void> {
  if (!parseFlags(args, {}, z.object({}), HELP)) return;
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    const { applied } = await explainingFailures(config, () => migrate(database));
    process.stdout.write(
      applied === 0
        ? `nothing to migrate: the database is up to date (${database.kind})\n`
        : `migrations applied: ${applied} (${database.kind})\n`,
    );
  } finally {
    await database.close();
  }
}
