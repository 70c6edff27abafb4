import { sql } from "drizzle-orm";
import type { FastifyPluginAsync } from "fastify";
import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";

/** Readiness of what lies beyond the database (worker started, Stripe account not halted…). */
export type Readiness = () => { ready: boolean; reasons: string[] };

/** How long /readyz waits for `select 1`: a probe must answer even when the pool hangs. */
const DB_PROBE_MS = 2_000;

/**
 * GET /healthz (the process answers) and GET /readyz (it can do its work: the database answers
 * and `readiness()` says ready; 503 with every reason otherwise). Neither needs a key: load
 * balancers and orchestrators call them.
 */
export const healthRoutes: FastifyPluginAsync<{
  db: Db;
  readiness?: Readiness | undefined;
}> = async (app, { db, readiness }) => {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const reasons: string[] = [];
    const dbProblem = await probeDatabase(db);
    if (dbProblem !== null) reasons.push(`database: ${dbProblem}`);
    if (readiness) {
      const state = readiness();
      if (!state.ready) reasons.push(...(state.reasons.length > 0 ? state.reasons : ["not ready"]));
    }
    const ready = reasons.length === 0;
    return reply.status(ready ? 200 : 503).send({ ready, reasons });
  });
};

/** Null when `select 1` answers in time, else why not. */
async function probeDatabase(db: Db): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(
      () => resolve(`no answer to select 1 within ${DB_PROBE_MS} ms`),
      DB_PROBE_MS,
    );
  });
  try {
    return await Promise.race([db.execute(sql`select 1`).then(() => null), timeout]);
  } catch (err) {
    return coerceError(err).message;
  } finally {
    clearTimeout(timer);
  }
}
