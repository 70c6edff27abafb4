import { z } from "zod";
import { loadConfig } from "../config.ts";
import { migrate } from "../db/migrate.ts";
import { apiKeyRoles } from "../db/schema/api-keys.ts";
import {
  apiKeyView,
  createApiKey,
  createdKeyView,
  listApiKeys,
  revokeApiKey,
} from "../ops/api-keys.ts";
import { openConfiguredDatabase } from "../system.ts";
import { explainingFailures } from "./startup-failure.ts";
import { renderTable } from "./table.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage:
  meterline keys create --name NAME --role ingest|admin [--expires-in 30d | --expires-at ISO]
                                                          prints the secret once
  meterline keys list [--json]
  meterline keys revoke ID

Only a hash of each secret is stored: a lost secret cannot be shown again; create another.
--expires-in takes days or hours (30d, 12h); from then on the key is refused like a revoked one.`;

const flagsSchema = z.object({
  name: z
    .string()
    .min(1, "must not be empty")
    .max(100, "must be at most 100 characters")
    .optional(),
  role: z.enum(apiKeyRoles, { error: "must be ingest or admin" }).optional(),
  json: z.boolean().optional(),
  "expires-in": z
    .string()
    .regex(/^[1-9]\d{0,5}[dh]$/, "must be a number of days or hours, like 30d or 12h")
    .optional(),
  "expires-at": z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 date-time, like 2027-01-31T00:00:00Z" })
    .refine((v) => Date.parse(v) > Date.now(), "must be in the future")
    .optional(),
});

/** When a key created now with these flags expires; null: never. */
export function expiryOf(
  flags: { "expires-in"?: string | undefined; "expires-at"?: string | undefined },
  now: Date,
): Date | null {
  const every = flags["expires-in"];
  const at = flags["expires-at"];
  if (every !== undefined && at !== undefined) {
    throw new UsageError(`give --expires-in or --expires-at, not both\n\n${HELP}`);
  }
  if (at !== undefined) return new Date(at);
  if (every === undefined) return null;
  const hours = Number(every.slice(0, -1)) * (every.endsWith("d") ? 24 : 1);
  return new Date(now.getTime() + hours * 3_600_000);
}

/** `meterline keys`: manage API keys. */
export async function cmdKeys(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    {
      name: { type: "string" },
      role: { type: "string" },
      json: { type: "boolean" },
      "expires-in": { type: "string" },
      "expires-at": { type: "string" },
    },
    flagsSchema,
    HELP,
  );
  if (!parsed) return;
  const [action, ...rest] = parsed.positionals;
  const { flags } = parsed;
  // Checked before the database opens: a mistake in the flags costs no start-up.
  const expiresAt = action === "create" ? expiryOf(flags, new Date()) : null;
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    await explainingFailures(config, () => migrate(database));
    const { db } = database;
    if (action === "create") {
      if (!flags.name || !flags.role)
        throw new UsageError(`keys create needs --name and --role\n\n${HELP}`);
      const key = await createApiKey(db, { name: flags.name, role: flags.role, expiresAt });
      const until = expiresAt ? `, expires ${expiresAt.toISOString()}` : "";
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(createdKeyView(key, new Date()))}\n`
          : `Created key ${key.id} "${key.name}" (${key.role}${until}). Its secret, shown only this once:\n\n  ${key.secret}\n\n`,
      );
    } else if (action === "list") {
      const now = new Date();
      const keys = (await listApiKeys(db)).map((k) => apiKeyView(k, now));
      process.stdout.write(
        flags.json ? `${JSON.stringify({ data: keys }, null, 2)}\n` : keyTable(keys),
      );
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

/** `keys list` for a person: one key a line under a header; every time in UTC. */
export function keyTable(keys: Array<ReturnType<typeof apiKeyView>>): string {
  if (keys.length === 0) {
    return "No API keys yet. Create one: meterline keys create --name NAME --role admin\n";
  }
  const when = (iso: string | null) =>
    iso === null ? "-" : `${iso.slice(0, 16).replace("T", " ")}`;
  const rows = keys.map((k) => [
    String(k.id),
    k.name,
    k.role,
    `${k.prefix}…`,
    k.status === "revoked" ? `revoked ${when(k.revoked_at)}` : k.status,
    when(k.created_at),
    k.expires_at === null ? "never" : when(k.expires_at),
  ]);
  const head = ["ID", "NAME", "ROLE", "PREFIX", "STATUS", "CREATED (UTC)", "EXPIRES (UTC)"];
  return `${renderTable(head, rows)}\n`;
}
