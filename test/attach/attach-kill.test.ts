import { type ChildProcess, spawn } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { attachLockId } from "../../src/attach/run-attach.ts";
import { openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { describeOnPostgres, emptyPostgresDatabase } from "../support/db.ts";
import { METERLINE_BIN } from "../support/start-env.ts";
import { waitFor } from "../support/wait.ts";

// Postgres only: attach runs as several processes beside each other, and its source is a
// Postgres table (PGlite is one process's). Spawns bin/meterline.js: `npm run -s build` first.
describeOnPostgres("meterline attach", () => {
  const ROWS = 1200;
  /** The row ids the inserter writes with an unknown customer and with a negative amount. */
  const GHOST_ROW = 100;
  const NEGATIVE_ROW = 400;
  let meterline: { url: string; drop: () => Promise<void> };
  let source: { url: string; drop: () => Promise<void> };
  let m: pg.Client;
  let s: pg.Client;
  const children = new Set<ChildProcess>();
  const output: string[] = [];

  beforeAll(async () => {
    meterline = await emptyPostgresDatabase();
    source = await emptyPostgresDatabase();
    const database = await openDatabase({ url: meterline.url });
    await migrate(database);
    await database.close();
    m = new pg.Client({ connectionString: meterline.url });
    s = new pg.Client({ connectionString: source.url });
    await m.connect();
    await s.connect();
    await m.query(`insert into customers (key) values ('acme'), ('globex')`);
    await m.query(`insert into meters (event_name) values ('api_calls')`);
    await s.query(`create table usage_logs (
      id bigserial primary key, "customerKey" text not null, amount integer not null,
      "createdAt" timestamptz not null default now())`);
  });

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await m?.end();
    await s?.end();
    await meterline?.drop();
    await source?.drop();
  });

  function startAttach(): ChildProcess {
    const child = spawn(
      process.execPath,
      [
        METERLINE_BIN,
        "attach",
        "--source-url",
        source.url,
        "--table",
        "usage_logs",
        "--id-column",
        "id",
        "--customer-column",
        "customerKey",
        "--event-name",
        "api_calls",
        "--value-column",
        "amount",
        "--time-column",
        "createdAt",
        "--follow-column",
        "id",
        "--batch",
        "40",
        "--poll-ms",
        "20",
      ],
      { env: { ...process.env, DATABASE_URL: meterline.url }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.add(child);
    child.stdout?.on("data", (d) => output.push(`[${child.pid}] ${d}`));
    child.stderr?.on("data", (d) => output.push(`[${child.pid}] ${d}`));
    child.on("exit", () => children.delete(child));
    return child;
  }

  /** The pid of the process that wrote the checkpoint last (its owner is host-pid). */
  async function workingPid(): Promise<number | null> {
    const { rows } = await m.query<{ owner: string }>(
      `select owner from attach_checkpoints where name = 'usage_logs' and last_id is not null`,
    );
    const pid = Number(rows[0]?.owner.split("-").at(-1));
    return Number.isInteger(pid) ? pid : null;
  }

  it("takes every row once while rows are inserted and the working process is SIGKILLed; refused rows are recorded and do not block", async () => {
    // Rows go in one by one from one connection while attach follows the table.
    let inserted = 0;
    const inserter = (async () => {
      for (let i = 1; i <= ROWS; i++) {
        const customer = i === GHOST_ROW ? "ghost" : i % 2 === 0 ? "acme" : "globex";
        const amount = i === NEGATIVE_ROW ? -5 : i % 7;
        await s.query(`insert into usage_logs ("customerKey", amount) values ($1, $2)`, [
          customer,
          amount,
        ]);
        inserted = i;
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // Two at once: one takes the lock and works, the other waits.
    const byPid = new Map<number, ChildProcess>();
    for (const c of [startAttach(), startAttach()]) byPid.set(c.pid as number, c);
    let kills = 0;
    for (const threshold of [150, 500, 850]) {
      await waitFor(`${threshold} rows inserted`, async () => inserted >= threshold);
      await waitFor("a process working", async () => {
        const pid = await workingPid();
        const child = pid === null ? undefined : byPid.get(pid);
        return child !== undefined && !child.killed && child.exitCode === null;
      });
      const pid = (await workingPid()) as number;
      byPid.get(pid)?.kill("SIGKILL");
      kills++;
      const replacement = startAttach();
      byPid.set(replacement.pid as number, replacement);
    }
    await inserter;
    expect(kills).toBe(3);

    const expected = await s.query<{ n: number; sum: string }>(
      `select count(*)::int as n, sum(amount)::text as sum from usage_logs
       where "customerKey" <> 'ghost' and amount >= 0`,
    );
    expect(expected.rows[0]?.n).toBe(ROWS - 2);
    const stored = async () =>
      (
        await m.query<{ n: number; distinct_ids: number; sum: string | null }>(
          `select count(*)::int as n, count(distinct id)::int as distinct_ids,
                  sum(value)::text as sum
           from usage_events where id like 'att:usage_logs:%'`,
        )
      ).rows[0];
    await waitFor("every row taken", async () => (await stored())?.n === ROWS - 2, 30_000).catch(
      async (err) => {
        // Say which rows are missing and who holds the lock: the failure is then readable.
        const got = await m.query<{ id: string }>(`select id from usage_events`);
        const have = new Set(got.rows.map((r) => Number(r.id.split(":").at(-1))));
        const missing = Array.from({ length: ROWS }, (_, i) => i + 1).filter((i) => !have.has(i));
        const locks = await m.query(
          `select l.pid, l.granted, a.state, left(a.query, 60) as query
           from pg_locks l join pg_stat_activity a using (pid) where l.locktype = 'advisory'`,
        );
        throw new Error(
          `${(err as Error).message}: missing rows ${missing.slice(0, 50).join(",")}\n${JSON.stringify(locks.rows)}\n${output.join("")}`,
        );
      },
    );
    // A few more polls: nothing more may arrive.
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored()).toEqual({
      n: ROWS - 2,
      distinct_ids: ROWS - 2,
      sum: expected.rows[0]?.sum,
    });
    const ids = await m.query<{ id: string }>(
      `select id from usage_events where id like 'att:usage_logs:%'`,
    );
    const rowIds = new Set(ids.rows.map((r) => Number(r.id.split(":").at(-1))));
    expect(rowIds.has(GHOST_ROW)).toBe(false);
    expect(rowIds.has(NEGATIVE_ROW)).toBe(false);
    expect(rowIds.has(GHOST_ROW + 1)).toBe(true);
    expect(rowIds.has(ROWS)).toBe(true);

    const refused = await m.query<{ row_id: string; code: string; message: string }>(
      `select row_id, code, message from attach_refusals where name = 'usage_logs' order by row_id::int`,
    );
    expect(refused.rows).toEqual([
      {
        row_id: String(GHOST_ROW),
        code: "unknown_customer",
        message: 'customer "ghost" does not exist',
      },
      {
        row_id: String(NEGATIVE_ROW),
        code: "invalid_value",
        message: expect.stringContaining("value must be a whole number ≥ 0"),
      },
    ]);
    // Of the two processes left, one holds the attach's lock and works; the other waits for it.
    const lockId = attachLockId("usage_logs");
    const advisory = async () =>
      (
        await m.query<{ granted: boolean }>(
          `select granted from pg_locks
           where locktype = 'advisory' and objsubid = 1 and classid = $1 and objid = $2
             and database = (select oid from pg_database where datname = current_database())
           order by granted`,
          [Math.floor(lockId / 2 ** 32), lockId % 2 ** 32],
        )
      ).rows;
    await waitFor(
      "the last process started",
      async () => (await advisory()).length === 2,
      20_000,
    ).catch((err) => {
      const exits = [...byPid].map(([pid, c]) => `${pid}: ${c.exitCode ?? c.signalCode}`);
      throw new Error(`${(err as Error).message}\n${exits.join(", ")}\n${output.join("")}`);
    });
    expect(await advisory()).toEqual([{ granted: false }, { granted: true }]);
    // The checkpoint is the last row, so a restart reads nothing again.
    const cp = await m.query(`select last_follow, last_id from attach_checkpoints`);
    expect(cp.rows).toEqual([{ last_follow: String(ROWS), last_id: String(ROWS) }]);
  }, 120_000);
});
