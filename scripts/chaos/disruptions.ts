import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import type { RunningEmulator } from "../../src/emulator/index.ts";
import type { WorkerPool } from "./workers.ts";

/**
 * One SIGKILL, freeze or stop of the whole pool: whom, when (ms since epoch), and the events it
 * held leases on then.
 */
export interface DisruptionRecord {
  /** The worker's id (its lease owner). */
  workerId: string;
  /** When, ms since epoch. */
  atMs: number;
  /** Events it held an unexpired lease on then. */
  held: string[];
  /** Freezes only: how many of `held` other workers had taken over by the time it woke. */
  takenOver?: number;
}

/** A disruption repeated every so often until stopped. */
export interface Repeating {
  /** Every disruption so far. */
  readonly records: DisruptionRecord[];
  /** Stops; resolves once one under way has finished (a killed worker restarted, a frozen one resumed). */
  stop(): Promise<void>;
  /** Holds off new ones; resolves once one under way has finished. */
  pause(): Promise<void>;
  /** Lets them happen again after `pause`. */
  resume(): void;
}

/** How often, how many times at most (null: no limit). */
export interface Every {
  /** Pause between two; 0 never. */
  everyMs: number;
  /** At most this many. */
  max: number | null;
}

/**
 * SIGKILLs a random running worker every `everyMs`, reads which events it still held a live lease on
 * (the ones lease expiry must now rescue) once the process is gone, and starts a replacement.
 */
export function startKiller(pool: WorkerPool, db: Db, every: Every): Repeating {
  return repeat(every, async () => {
    const killed = await pool.killRandom();
    if (!killed) return null;
    const { id, atMs } = killed;
    // Read after the process is gone: nothing it held can change now but by lease expiry.
    const held = await heldLeases(db, id);
    pool.restart(id);
    return { workerId: id, atMs, held };
  });
}

/**
 * Freezes a random worker (SIGSTOP) for `forMs`, longer than a lease, then resumes it
 * (SIGCONT): a GC pause, a stalled VM, a network partition. Its leases expire, other workers
 * take its events, and when it wakes its in-flight answers arrive late: the settle guard must
 * refuse every outcome it then tries to write for events it no longer holds.
 */
export function startFreezer(pool: WorkerPool, db: Db, every: Every, forMs: number): Repeating {
  return repeat(every, async () => {
    // Looked for briefly: stop() and pause() wait for a freeze under way.
    const chosen = await workerHoldingLeases(pool, db, Math.min(every.everyMs, 3_000));
    if (chosen === null) return null;
    const { id, held } = chosen;
    const atMs = Date.now();
    if (!pool.signal(id, "SIGSTOP")) return null;
    await new Promise((resolve) => setTimeout(resolve, forMs));
    // Whether the freeze did what it is for: other workers took over what the frozen one held.
    const takenOver = await takenOverFrom(db, id, held);
    pool.signal(id, "SIGCONT");
    return { workerId: id, atMs, held, takenOver };
  });
}

function repeat(every: Every, action: () => Promise<DisruptionRecord | null>): Repeating {
  const records: DisruptionRecord[] = [];
  let stopped = false;
  let paused = false;
  let current: Promise<unknown> = Promise.resolve();
  let wake: () => void = () => {};
  const loop = (async () => {
    if (every.everyMs <= 0) return;
    while (!stopped && (every.max === null || records.length < every.max)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, every.everyMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopped) return;
      if (paused) continue;
      const doing = action();
      current = doing.catch(() => null);
      const record = await doing;
      if (record) records.push(record);
    }
  })();
  return {
    records,
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
    async pause() {
      paused = true;
      await current;
    },
    resume() {
      paused = false;
    },
  };
}

/**
 * A running worker that holds live leases, while another runs to take them over; looked for
 * for up to `withinMs`, else null (try again next time). A frozen idle worker tests nothing:
 * one halted by the revoked key, or between claims, holds no lease for anyone to take over.
 */
async function workerHoldingLeases(
  pool: WorkerPool,
  db: Db,
  withinMs: number,
): Promise<{ id: string; held: string[] } | null> {
  const until = Date.now() + withinMs;
  for (;;) {
    const id = pool.randomReadyId(2);
    if (id !== null) {
      const held = await heldLeases(db, id);
      if (held.length > 0) return { id, held };
    }
    if (Date.now() >= until) return null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Ends every worker at once (WorkerPool.halt: a clock jump's SIGKILL, a deploy's SIGTERM) and
 * reads, once each is gone, the leases it still held: those claims end with no outcome, and
 * count toward an event's crash_loop like a kill's. A SIGTERM leaves none unless a worker
 * outlived its grace and was SIGKILLed.
 */
export async function haltAll(
  pool: WorkerPool,
  db: Db,
  signal: "SIGKILL" | "SIGTERM",
): Promise<DisruptionRecord[]> {
  const atMs = Date.now();
  const ids = await pool.halt(signal);
  return Promise.all(
    ids.map(async (workerId) => ({ workerId, atMs, held: await heldLeases(db, workerId) })),
  );
}

/** The events whose unexpired lease `owner` holds. */
async function heldLeases(db: Db, owner: string): Promise<string[]> {
  const held = await rows<{ id: string }>(
    db,
    sql`select id from usage_events
        where lease_owner = ${owner} and status = 'pending' and lease_expires_at > now()`,
  );
  return held.map((r) => r.id);
}

/**
 * How many of `ids` the frozen `owner` no longer holds: another worker claimed them (and may
 * have settled them since). A frozen process writes nothing, so none of this is its own doing.
 */
async function takenOverFrom(db: Db, owner: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events
        where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
          and lease_owner is distinct from ${owner}`,
  );
  return row?.n ?? 0;
}

/** When the key was revoked and restored (ms since epoch); `toMs` null while still revoked. */
export interface RevokeWindow {
  /** Revoked at, ms since epoch. */
  fromMs: number;
  /** Restored at; null while still revoked. */
  toMs: number | null;
}

/** A scheduled key revocation. */
export interface Revocation {
  /** True once the key was revoked and restored (or when none was asked for). */
  finished(): boolean;
  /** The revocation, once it began. */
  window(): RevokeWindow | null;
  /** Cancels what has not happened yet and restores the key if it is revoked. */
  cancel(): void;
}

/** Revokes the emulator's key `atMs` from now for `forMs` (every call answers 401 meanwhile). */
export function scheduleRevoke(
  emulator: RunningEmulator,
  key: string,
  { atMs, forMs }: { atMs: number; forMs: number },
): Revocation {
  if (forMs <= 0) return { finished: () => true, window: () => null, cancel: () => {} };
  let window: RevokeWindow | null = null;
  let restoreTimer: NodeJS.Timeout | null = null;
  const restore = () => {
    if (window && window.toMs === null) {
      emulator.restoreKey(key);
      window.toMs = Date.now();
    }
  };
  const revokeTimer = setTimeout(() => {
    emulator.revokeKey(key);
    window = { fromMs: Date.now(), toMs: null };
    restoreTimer = setTimeout(restore, forMs);
  }, atMs);
  return {
    finished: () => window?.toMs != null,
    window: () => (window ? { ...window } : null),
    cancel() {
      clearTimeout(revokeTimer);
      if (restoreTimer) clearTimeout(restoreTimer);
      restore();
    },
  };
}
