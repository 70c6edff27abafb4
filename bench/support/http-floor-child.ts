/**
 * The two processes of the transport floor (bench/floor.ts), one script for both: `server`
 * answers every POST after the emulator's latency with a meter event's JSON, and nothing else;
 * `client` sends one POST per event at a fixed rate and waits for each answer, `via` one of:
 * - "http": a form-encoded POST over keep-alive connections (node:http, as the Stripe SDK's
 *   default client), each answer parsed. No SDK, no database, no routing, no validation: what
 *   is left is what two Node processes cost to exchange one request per event on this machine.
 * - "sdk": Meterline's own v1 sink (the Stripe SDK as the worker calls it, compiled, from
 *   dist/), and nothing else of the worker: no outbox, no database, no limiter. Beside the
 *   "http" client, what the SDK adds to each request.
 * Each reports over the IPC channel.
 */
import { Agent, createServer, request } from "node:http";
// @ts-expect-error scripts/build.js is plain JavaScript, with no declarations.
import { ensureBuilt } from "../../scripts/build.js";
import type * as MeterEvents from "../../src/reporter/sinks/meter-events.ts";
import type * as StripeClient from "../../src/reporter/stripe-client.ts";
import { openLoop, type Sender } from "./open-loop.ts";

/** How the floor's client sends (see above). */
export type FloorVia = "http" | "sdk";

/** What the parent hears (it answers the client's `ready` with "start"). */
export type FloorMessage =
  | { type: "ready"; port: number }
  /** The client's warm-up load is done (the parent answers "start" again to go on). */
  | { type: "warm" }
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
  const { port, perSecond, count, warmup, via } = JSON.parse(json ?? "{}") as {
    port: number;
    perSecond: number;
    count: number;
    /** Requests sent at the same rate before the measured ones (as the e2e runs' warm-up). */
    warmup: number;
    via: FloorVia;
  };
  const post = via === "sdk" ? await sdkSender(port) : httpSender(port);
  const told = (m: FloorMessage) =>
    new Promise<void>((resolve) => {
      process.once("message", () => resolve());
      send(m);
    });
  await told({ type: "ready", port });
  if (warmup > 0) {
    // Ids after the measured ones' range: each request's body stays unique.
    await openLoop(warmup, perSecond, (i) => post(count + i));
    await told({ type: "warm" });
  }
  // Warm (or not asked to be): the parent has started counting CPU.
  const r = await openLoop(count, perSecond, post);
  send({ type: "done", wallMs: r.wallMs, errors: r.errors, firstError: r.firstError });
  process.disconnect?.();
}

/** One bare node:http POST per event. */
function httpSender(port: number): Sender {
  const agent = new Agent({ keepAlive: true });
  return (i: number) =>
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
}

/** One event per call of Meterline's compiled v1 sink, with the client the worker builds. */
async function sdkSender(port: number): Promise<Sender> {
  const problem: string | null = ensureBuilt();
  if (problem !== null) throw new Error(`the build failed: ${problem}`);
  const dist = (path: string) => new URL(`../../dist/${path}`, import.meta.url).href;
  const { createStripeClient }: typeof StripeClient = await import(
    dist("reporter/stripe-client.js")
  );
  const { fromMeterEvents }: typeof MeterEvents = await import(
    dist("reporter/sinks/meter-events.js")
  );
  const sink = fromMeterEvents(
    createStripeClient({
      secretKey: "sk_test_floor",
      apiBase: `http://127.0.0.1:${port}`,
      timeoutMs: 10_000,
    }),
  );
  const occurredAt = new Date(1_738_396_800_000);
  return async (i: number) => {
    const result = await sink.send({
      id: `evt_${i}`,
      identifier: `evt_${i}`,
      eventName: "api_calls",
      stripeCustomerId: `cus_${i % 200}`,
      value: 1,
      occurredAt,
      customerPayloadKey: "stripe_customer_id",
      valuePayloadKey: "value",
    });
    return result.kind === "ok" ? null : `${result.kind}: ${result.message}`;
  };
}
