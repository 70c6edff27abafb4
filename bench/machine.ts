/**
 * What the figures were measured on. Printed with every table: a throughput means nothing
 * without the cores, memory, load and versions behind it, and this machine is shared.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";
import pg from "pg";
import { mib } from "./table.ts";

/** The machine and software versions, as printable lines. */
export interface Machine {
  /** "key: value" lines, printed under every table. */
  lines: string[];
  /** The Postgres server's version, or null when unreachable (then `postgresError` says why). */
  postgresVersion: string | null;
  /** Why Postgres could not be reached, when it could not. */
  postgresError: string | null;
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
export async function postgresVersion(
  adminUrl: string,
): Promise<{ version: string | null; error: string | null }> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const result = await client.query<{ v: string }>(
      "select current_setting('server_version') as v",
    );
    return { version: result.rows[0]?.v ?? "unknown", error: null };
  } catch (err) {
    return { version: null, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Collects the machine description once per run. */
export async function describeMachine(adminUrl: string): Promise<Machine> {
  const cpu = cpus();
  const pgInfo = await postgresVersion(adminUrl);
  const redacted = adminUrl.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
  const lines = [
    `cpu: ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown"}`,
    `memory: ${mib(totalmem())} MiB total, ${mib(freemem())} MiB free at start`,
    `load average at start (1/5/15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}`,
    `node ${process.version}, ${process.platform}/${process.arch}`,
    `postgres: ${pgInfo.version ?? `unreachable at ${redacted} (${pgInfo.error})`}`,
    `@electric-sql/pglite ${packageVersion("@electric-sql/pglite")}, stripe ${packageVersion("stripe")}, fastify ${packageVersion("fastify")}, drizzle-orm ${packageVersion("drizzle-orm")}, pg ${packageVersion("pg")}`,
    `meterline commit: ${commit()}`,
  ];
  return { lines, postgresVersion: pgInfo.version, postgresError: pgInfo.error };
}
