import { z } from "zod";
import { loadConfig } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { apiKeyRoles } from "../db/schema/api-keys.ts";
import { createApiKey, listApiKeys, revokeApiKey } from "../ops/api-keys.ts";
import { openConfiguredDatabase } from "../system.ts";
import { explainingFailures } from "./startup-failure.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage:
  meterline keys create --name NAME --role ingest|admin   prints the secret once
  meterline keys list [--json]
  meterline keys revoke ID

Only a hash of each secret is stored: a lost secret cannot be shown again; create another.`;

const flagsSchema = z.object({
  name: z
    .string()
    .min(1, "must not be empty")
    .max(100, "must be at most 100 characters")
    .optional(),
  role: z.enum(apiKeyRoles, { error: "must be ingest or admin" }).optional(),
  json: z.boolean().optional(),
});

/** `meterline keys`: manage API keys. */
export async function cmdKeys(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    { name: { type: "string" }, role: { type: "string" }, json: { type: "boolean" } },
    flagsSchema,
    HELP,
  );
  if (!parsed) return;
  const [action, ...rest] = parsed.positionals;
  const { flags } = parsed;
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    await explainingFailures(config, () => migrate(database));
    const { db } = database;
    if (action === "create") {
      if (!flags.name || !flags.role)
        throw new UsageError(`keys create needs --name and --role\n\n${HELP}`);
      const key = await createApiKey(db, { name: flags.name, role: flags.role });
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(key)}\n`
          : `Created key ${key.id} "${key.name}" (${key.role}). Its secret, shown only this once:\n\n  ${key.secret}\n\n`,
      );
    } else if (action === "list") {
      const keys = await listApiKeys(db);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      } else {
        for (const k of keys) {
          const revoked = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "active";
          process.stdout.write(
            `${String(k.id).padStart(4)}  ${k.prefix}…  ${k.role.padEnd(6)}  ${revoked.padEnd(32)}  ${k.name}\n`,
          );
        }
      }
    } else if (action === "revoke") {
      const id = Number(rest[0]);
      if (!Number.isInteger(id) || id <= 0)
        throw new UsageError(`keys revoke needs a key id (see keys list)\n\n${HELP}`);
      const ok = await revokeApiKey(db, id);
      if (!ok) throw new UsageError(`no active key with id ${id}`);
      process.stdout.write(`revoked key ${id}\n`);
    } else {
      throw new UsageError(`keys needs an action: create, list or revoke\n\n${HELP}`);
    }
  } finally {
    await database.close();
  }
}
