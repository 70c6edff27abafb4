/**
 * Between the emulator and billing sync's route, two things the time-travel test must restore:
 *
 * - One clock. The emulator signs thin events at ITS clock, which the model moves hours ahead
 *   (JumpClock); Meterline verifies signatures against the wall clock with Stripe's 5-minute
 *   tolerance. In production both clocks agree, so the relay re-signs each notification, byte
 *   for byte the same body, at the wall clock's time.
 * - Redelivery. Stripe retries a delivery that was not answered 2xx for days; the emulator tries
 *   once. The relay keeps every notification the route did not take and delivers it again on
 *   the next flush (`redeliver`), as Stripe would.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { signatureHeader } from "../../src/emulator/index.ts";

/** A running relay. */
export interface Relay {
  /** Where the emulator delivers (its event destination). */
  url: string;
  /** Notifications the route has not taken yet (answered other than 2xx, or unreachable). */
  undelivered(): number;
  /** Statuses the route answered, in order (null: the request failed outright). */
  statuses: Array<number | null>;
  /** Delivers again what the route did not take; resolves with how many it took now. */
  redeliver(): Promise<number>;
  close(): Promise<void>;
}

/** Starts a relay that forwards to `target` re-signed with `secret`. */
export async function startRelay(target: string, secret: string): Promise<Relay> {
  let waiting: string[] = [];
  const statuses: Array<number | null> = [];

  async function forward(body: string): Promise<number | null> {
    let status: number | null = null;
    try {
      const res = await fetch(target, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": signatureHeader(body, secret, Math.floor(Date.now() / 1000)),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = null;
    }
    statuses.push(status);
    return status;
  }

  const ok = (status: number | null) => status !== null && status >= 200 && status < 300;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      void forward(body).then((status) => {
        if (!ok(status)) waiting.push(body);
        res.statusCode = status ?? 502;
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    undelivered: () => waiting.length,
    statuses,
    async redeliver() {
      const again = waiting;
      waiting = [];
      let taken = 0;
      for (const body of again) {
        if (ok(await forward(body))) taken++;
        else waiting.push(body);
      }
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
