import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { defaultConfig } from "../../src/config.ts";
import type { Database, Db } from "../../src/db/connect.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { type AppDeps, buildApp } from "../../src/http/app.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { freshDatabase } from "../support/db.ts";

/** An app on a fresh database of its own, with one admin and one ingest key. */
export interface TestApi {
  app: FastifyInstance;
  database: Database;
  db: Db;
  adminKey: string;
  ingestKey: string;
  /** Sends a request with the admin key unless `headers.authorization` says otherwise. */
  call(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Starts the API on a fresh database of `kind`: once per suite, since PGlite takes seconds. */
export async function startApi(
  kind: Database["kind"],
  extra: Pick<AppDeps, "readiness"> = {},
): Promise<TestApi> {
  const database = await freshDatabase(kind);
  const app = await buildApp({ db: database.db, config: defaultConfig(), ...extra });
  const adminKey = (await createApiKey(database.db, { name: "test admin", role: "admin" })).secret;
  const ingestKey = (await createApiKey(database.db, { name: "test ingest", role: "ingest" }))
    .secret;
  return {
    app,
    database,
    db: database.db,
    adminKey,
    ingestKey,
    call: (options) =>
      app.inject({
        ...options,
        headers: { authorization: `Bearer ${adminKey}`, ...options.headers },
      }),
    async close() {
      await app.close();
      await database.close();
    },
  };
}

/** Inserts active customers and meters directly, for suites that test something else. */
export async function seed(
  db: Db,
  input: { customers?: string[]; deleted?: string[]; meters?: string[] },
): Promise<void> {
  const rows = [
    ...(input.customers ?? []).map((key) => ({ key })),
    ...(input.deleted ?? []).map((key) => ({
      key,
      status: "deleted" as const,
      deletedAt: new Date(),
    })),
  ];
  if (rows.length > 0) await db.insert(customers).values(rows).onConflictDoNothing();
  const meterRows = (input.meters ?? []).map((eventName) => ({ eventName }));
  if (meterRows.length > 0) await db.insert(meters).values(meterRows).onConflictDoNothing();
}

/** The `error` object of an error response. */
export function apiError(res: LightMyRequestResponse): {
  code: string;
  message: string;
  field?: string;
  errors?: Array<{ index: number; field: string; code: string; message: string }>;
  truncated?: boolean;
  total_errors?: number;
  ids?: string[];
} {
  return (res.json() as { error: ReturnType<typeof apiError> }).error;
}
