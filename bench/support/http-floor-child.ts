/**
 * The two processes of the transport floor (bench/floor.ts), one script for both: `server`
 * answers every POST after the emulator's latency with a meter event's JSON, and nothing else;
 * `client` sends one form-encoded POST per event at a fixed rate over keep-alive connections
 * (node:http, as the Stripe SDK's default client) and parses each answer. No SDK, no database,
 * no routing, no validation: what is left is what two Node processes cost to exchange one
 * request per event on this machine. Each reports over the IPC channel.
 */
import { Agent, createServer, request } from "node:http";
import { openLoop } from "./open-loop.ts";

/** What the parent hears (it answers the client's `ready` with "start"). */
export type FloorMessage =
  | { type: "ready"; port: number }
  | { type: "done"; wallMs: number; errors: number; firstError: string | null };

const [role, json] = process.argv.slice(2);
const send = (m: FloorMessage) => process.send?.(m);

/** The emulator's answer to a v1 meter event, as sent (sizes alike). */
const ANSWER = JSON.stringify({
  object: "billing.meter_event",
  created: 1_738_396_800,
  event_name: "api_calls",
  identifier: "evt_0000000000000000000000000000",
  livemode: false,
  payload: { stripe_customer_id: "cus_00000000000000", value: "1" },
  timestamp: 1_738_396_800,
});

if (role === "server") {
  const { latencyMs, jitterMs } = JSON.parse(json ?? "{}") as {
    latencyMs: number;
    jitterMs: number;
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const delay = Math.max(0, Math.round(latencyMs + (2 * Math.random() - 1) * jitterMs));
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(ANSWER);
      }, delay);
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    send({ type: "ready", port: typeof address === "object" && address ? address.port : 0 });
  });
  process.on("disconnect", () => process.exit(0));
} else if (role === "client") {
  const { port, perSecond, count } = JSON.parse(json ?? "{}") as {
    port: number;
    perSecond: number;
    count: number;
  };
  const agent = new Agent({ keepAlive: true });
  const post = (i: number) =>
    new Promise<string | null>((resolve) => {
      const body = `event_name=api_calls&identifier=evt_${i}&payload[stripe_customer_id]=cus_${i % 200}&payload[value]=1&timestamp=1738396800`;
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/v1/billing/meter_events",
          method: "POST",
          agent,
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": Buffer.byteLength(body),
            authorization: "Bearer sk_test_floor",
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => {
            JSON.parse(text);
            resolve(res.statusCode === 200 ? null : `status ${res.statusCode}`);
          });
        },
      );
      req.on("error", (err) => resolve(String(err)));
      req.end(body);
    });
  // Loaded and waiting: the parent starts counting CPU, then says "start".
  await new Promise<void>((resolve) => {
    process.once("message", () => resolve());
    send({ type: "ready", port });
  });
  const r = await openLoop(count, perSecond, post);
  send({ type: "done", wallMs: r.wallMs, errors: r.errors, firstError: r.firstError });
  process.disconnect?.();
}
