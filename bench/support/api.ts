/**
 * A producer's view of the API: POST /v1/events over real sockets with node:http and a
 * keep-alive agent (cheaper per request than fetch, so the load generator takes less of the
 * CPU it shares with the server), and GET of the admin routes the bench polls.
 */
import { Agent, request } from "node:http";

/** Keep-alive, no cap on sockets: an open loop must never queue in the client's pool. */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

/** An answer: status and body text; status 0 when the request itself failed. */
export interface Answer {
  status: number;
  text: string;
}

/** Sends one request; never rejects (a network error is status 0 with the message). */
export function send(
  method: "GET" | "POST",
  url: string,
  key: string,
  body: string | null = null,
): Promise<Answer> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${key}` };
    if (body !== null) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    }
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
      );
      res.on("error", (err) => resolve({ status: 0, text: String(err) }));
    });
    req.on("error", (err) => resolve({ status: 0, text: String(err) }));
    req.end(body ?? undefined);
  });
}

/** POSTs a JSON body to /v1/events; `error` is null for a 202. */
export async function postEvents(
  apiUrl: string,
  key: string,
  body: string,
): Promise<{ status: number; error: string | null }> {
  const res = await send("POST", `${apiUrl}/v1/events`, key, body);
  return { status: res.status, error: res.status === 202 ? null : res.text.slice(0, 300) };
}

/** Pending events per GET /v1/stats (admin key); NaN when the API does not answer. */
export async function pendingViaApi(apiUrl: string, adminKey: string): Promise<number> {
  const res = await send("GET", `${apiUrl}/v1/stats`, adminKey);
  if (res.status !== 200) return Number.NaN;
  const parsed = JSON.parse(res.text) as { pending?: { total?: unknown } };
  return Number(parsed.pending?.total ?? Number.NaN);
}

/** Closes the idle keep-alive sockets, so the bench can exit. */
export function closeClient(): void {
  agent.destroy();
}
