/**
 * The real HTTP API on a real socket (buildApp, listening on port 0), and a client that posts
 * to it with fetch: what a producer sees, not `inject()`, which skips the network stack.
 */
import type { FastifyInstance } from "fastify";
import { defaultConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/connect.ts";
import { buildApp } from "../../src/http/app.ts";

/** A listening API. */
export interface ListeningApi {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Builds the app on `db` and listens on a free port of 127.0.0.1. */
export async function listenApi(db: Db): Promise<ListeningApi> {
  const app = await buildApp({ db, config: defaultConfig() });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, app, close: () => app.close() };
}

/** POSTs a JSON body to /v1/events; resolves with the status and how many were accepted. */
export async function postEvents(
  url: string,
  key: string,
  body: string,
): Promise<{ status: number; accepted: number; error: string | null }> {
  const res = await fetch(`${url}/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body,
  });
  const text = await res.text();
  if (res.status !== 202) return { status: res.status, accepted: 0, error: text.slice(0, 300) };
  const parsed: unknown = JSON.parse(text);
  const accepted =
    typeof parsed === "object" && parsed !== null && "accepted" in parsed
      ? Number(parsed.accepted)
      : 0;
  return { status: res.status, accepted, error: null };
}
