/**
 * CPU of the Postgres backends serving one database, read from /proc (the server must be on
 * this machine): pg_stat_activity names the backends connected to the bench's database, and
 * /proc/<pid>/stat says how much CPU each has used. pg_stat_statements would not do: it
 * records execution time (waits included), not CPU, and needs a preloaded library.
 *
 * Backends come and go (a pool opens connections under load and closes idle ones), so the
 * list is sampled every 250 ms: a backend's CPU counts from its first sample in the window (or
 * from 0 when it appeared during it) to its last; what a backend used after its last sample,
 * just before it exited, is missed. Each Meterline process connects with its own
 * application_name, which groups the backends by the process they serve.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { processCpuMs } from "./cpu.ts";

/** The application_name of the sampler's own connection, never counted. */
const SELF_NAME = "meterline-bench-cpu";
const SAMPLE_MS = 250;

/** Appends `application_name` to a Postgres URL, so its backends can be told apart. */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set("application_name", name);
  return u.toString();
}

/** A running count of a database's backend CPU, grouped by application_name. */
export interface PostgresCpu {
  /** CPU ms by application_name since start; null (with `why`) when it cannot be read. */
  stop(): Promise<{ byApp: Record<string, number> | null; why: string | null }>;
}

interface Seen {
  app: string;
  first: number;
  last: number;
}

/** Starts sampling the backends of the database `url` names (connects to it). */
export async function startPostgresCpu(url: string): Promise<PostgresCpu> {
  const client = new pg.Client({ connectionString: withApplicationName(url, SELF_NAME) });
  await client.connect();
  const seen = new Map<number, Seen>();
  let why: string | null = null;
  let started = false;

  const sample = async () => {
    const res = await client.query<{ pid: number; app: string }>(
      `select pid, coalesce(application_name, '') as app from pg_stat_activity
        where datname = current_database() and backend_type = 'client backend'
          and application_name <> $1`,
      [SELF_NAME],
    );
    for (const { pid, app } of res.rows) {
      const cpu = processCpuMs(pid);
      if (cpu === null) continue;
      const known = seen.get(pid);
      if (known) known.last = cpu;
      // A backend seen at the start counts from there; one born later counts from 0.
      else seen.set(pid, { app, first: started ? 0 : cpu, last: cpu });
    }
  };

  const own = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
  const ownPid = own.rows[0]?.pid ?? 0;
  if (!isLocalPostgres(ownPid)) {
    why = "the Postgres server is not on this machine (its backends are not in /proc)";
  } else {
    await sample();
  }
  started = true;
  let busy = false;
  const timer = setInterval(() => {
    if (why !== null || busy) return;
    busy = true;
    sample()
      .catch(() => {})
      .finally(() => {
        busy = false;
      });
  }, SAMPLE_MS);

  return {
    async stop() {
      clearInterval(timer);
      try {
        if (why === null) await sample();
      } finally {
        await client.end().catch(() => {});
      }
      if (why !== null) return { byApp: null, why };
      const byApp: Record<string, number> = {};
      for (const s of seen.values()) byApp[s.app] = (byApp[s.app] ?? 0) + (s.last - s.first);
      return { byApp, why: null };
    },
  };
}

/** True when `pid` is a postgres process on this machine (the server is local). */
function isLocalPostgres(pid: number): boolean {
  try {
    return /postgres/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return false;
  }
}
