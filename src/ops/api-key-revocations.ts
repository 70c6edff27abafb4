import pg from "pg";
import type { Db } from "../db/connect.ts";
import { sqlClient } from "../db/sql-client.ts";

/**
 * The channel `revokeApiKey` notifies, with the key's id as payload, in the statement that
 * revokes it: Postgres delivers the notification at commit, to every process that listens.
 */
export const REVOCATIONS_CHANNEL = "meterline_api_keys";

/** What a key cache does when it hears of revocations. */
export interface RevocationHandlers {
  /** Key `id` was revoked: stop trusting it now. */
  revoked(id: number): void;
  /** Revocations may have been missed (the listening connection was down): trust nothing cached. */
  missed(): void;
}

// This process's caches by database handle: a revocation made through the same handle reaches
// them before revokeApiKey returns, with no round trip through the server.
const local = new WeakMap<Db, Set<RevocationHandlers>>();

/** Tells this process's caches on `db` that key `id` was revoked (revokeApiKey calls it). */
export function publishRevocation(db: Db, id: number): void {
  for (const handlers of local.get(db) ?? []) handlers.revoked(id);
}

/** Reconnect delays of the listening connection: 1 s doubling to 30 s. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/**
 * Subscribes to key revocations: those made in this process through `db` at once, and on
 * Postgres those of every process through LISTEN on a connection of its own (PGlite is one
 * process: the local path is all there is). Resolves once the first LISTEN was attempted;
 * a connection that fails or drops is retried with backoff, and `missed()` is called when it
 * drops and again when it listens anew. Whatever the connection does, a cache's TTL bounds how long a revoked key
 * can still be trusted. Returns the function that stops it all.
 */
export async function watchRevocations(
  db: Db,
  handlers: RevocationHandlers,
): Promise<() => Promise<void>> {
  let set = local.get(db);
  if (set === undefined) {
    set = new Set();
    local.set(db, set);
  }
  set.add(handlers);
  const config = sqlClient(db).connectionConfig;
  const listener = config === null ? null : new RevocationListener(config, handlers);
  await listener?.start();
  return async () => {
    local.get(db)?.delete(handlers);
    await listener?.stop();
  };
}

/** One LISTEN connection, reconnected with backoff until stopped. */
class RevocationListener {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delayMs = RETRY_MIN_MS;
  private stopped = false;
  // True from a failed or lost connection until the next LISTEN succeeds.
  private unheard = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly handlers: RevocationHandlers,
  ) {}

  /** Connects and listens once; on failure, retries in the background. */
  async start(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client(this.config);
    this.client = client;
    // A dropped connection emits "error" (or just "end"): either way, listen again later.
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    client.on("notification", (message) => {
      const id = Number(message.payload);
      if (Number.isSafeInteger(id)) this.handlers.revoked(id);
      else this.handlers.missed();
    });
    try {
      await client.connect();
      await client.query(`listen ${REVOCATIONS_CHANNEL}`);
      this.delayMs = RETRY_MIN_MS;
      // Anything revoked while nobody listened went unheard: keys read meanwhile are suspect.
      // (Not at the first start: the cache reads no key before it listens.)
      if (this.unheard) this.handlers.missed();
      this.unheard = false;
    } catch {
      this.lost(client);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private lost(client: pg.Client): void {
    // Each connection is given up once; events of an older one change nothing.
    if (this.client !== client || this.stopped) return;
    this.client = null;
    this.unheard = true;
    client.end().catch(() => {});
    this.handlers.missed();
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start();
    }, delay);
    // Waiting to listen again must not keep a finished process alive.
    this.timer.unref();
  }
}
