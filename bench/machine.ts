/**
 * What the figures were measured on. Printed with every table: a throughput means nothing
 * without the cores, memory, load and versions behind it, and this machine is shared.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import pg from "pg";
import type { Figures } from "./report.ts";
import { describeEntry } from "./support/meterline-process.ts";
import { mib } from "./table.ts";

/** The Postgres settings that change what a figure means (durability, memory, vacuum). */
export const POSTGRES_SETTINGS = [
  "shared_buffers",
  "synchronous_commit",
  "fsync",
  "full_page_writes",
  "wal_level",
  "autovacuum",
  "max_connections",
] as const;

/** The machine and software versions, as printable lines. */
export interface Machine {
  /** "key: value" lines, printed under every table. */
  lines: string[];
  /** The Postgres server's version, or null when unreachable (then `postgresError` says why). */
  postgresVersion: string | null;
  /** Why Postgres could not be reached, when it could not. */
  postgresError: string | null;
  /** The settings of POSTGRES_SETTINGS, as the server reports them (with units). */
  postgresSettings: Record<string, string>;
  /** The same facts, for the JSON document. */
  facts: Figures;
}

/** The load average now, for the line under each table (the machine is shared). */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
}
/** Version of an installed package, read from its package.json (exports may hide it). */
function packageVersion(name: string): string {
  try {
    const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    const parsed: unknown = JSON.parse(readFileSync(url, "utf8"));
    if (typeof parsed === "object" && parsed !== null && "version" in parsed) {
      return String(parsed.version);
    }
  } catch {
    // fall through: a missing package is reported, not fatal
  }
  return "not installed";
}

/** The checkout's commit, for telling runs apart; read-only git. */
function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8" }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

/** Asks the server for its version; null and the reason when it cannot be reached. */
export async function postgresVersion(adminUrl: string): Promise<{
  version: string | null;
  error: string | null;
  settings: Record<string, string>;
}> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const result = await client.query<{ v: string }>(
      "select current_setting('server_version') as v",
    );
    const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
      "select name, setting, unit from pg_settings where name = any($1)",
      [POSTGRES_SETTINGS],
    );
    const byName: Record<string, string> = {};
    for (const r of settings.rows) {
      // shared_buffers is in 8 kB pages: say it in MiB.
      byName[r.name] =
        r.unit === "8kB"
          ? `${(Number(r.setting) * 8) / 1024} MiB`
          : `${r.setting}${r.unit ? ` ${r.unit}` : ""}`;
    }
    return { version: result.rows[0]?.v ?? "unknown", error: null, settings: byName };
  } catch (err) {
    return { version: null, error: err instanceof Error ? err.message : String(err), settings: {} };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Collects the machine description once per run. */
export async function describeMachine(adminUrl: string): Promise<Machine> {
  const cpu = cpus();
  const pgInfo = await postgresVersion(adminUrl);
  const redacted = adminUrl.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  const settings = POSTGRES_SETTINGS.filter((k) => k in pgInfo.settings)
    .map((k) => `${k}=${pgInfo.settings[k]}`)
    .join(", ");
  const entry = describeEntry();
  const versions = `@electric-sql/pglite ${packageVersion("@electric-sql/pglite")}, stripe ${packageVersion("stripe")}, fastify ${packageVersion("fastify")}, drizzle-orm ${packageVersion("drizzle-orm")}, pg ${packageVersion("pg")}`;
  const lines = [
    `cpu: ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown"}`,
    `memory: ${mib(totalmem())} MiB total, ${mib(freemem())} MiB free at start`,
    `load average at start (1/5/15 min): ${loadNow()}`,
    `node ${process.version}, ${process.platform}/${process.arch}`,
    `postgres: ${pgInfo.version ? `${pgInfo.version} (${settings})` : `unreachable at ${redacted} (${pgInfo.error})`}`,
    versions,
    `meterline: ${entry}; commit ${commit()}`,
  ];
  const facts: Figures = {
    cpus: cpu.length,
    cpu_model: cpu[0]?.model.trim() ?? "unknown",
    memory_mib: totalmem() / (1024 * 1024),
    load_average_at_start: loadavg().map((l) => Number(l.toFixed(2))),
    node: process.version,
    postgres_version: pgInfo.version,
    postgres_settings: { ...pgInfo.settings },
    versions,
    meterline_entry: entry,
    commit: commit(),
  };
  return {
    lines,
    postgresVersion: pgInfo.version,
    postgresError: pgInfo.error,
    postgresSettings: pgInfo.settings,
    facts,
  };
}
