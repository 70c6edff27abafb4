import { z } from "zod";
import { startEmulator } from "../emulator/index.ts";
import { EMULATOR_KEY } from "../system.ts";
import { parseFlags } from "./usage-error.ts";

const HELP = `Usage: meterline emulator [options]

Serves a Stripe-compatible API (customers, billing meters, meter events) with a ledger and
fault injection, for development, demos, tests and benchmarks.

Options:
  --host H          interface to listen on (default 127.0.0.1)
  --port N          port (default 12111; 0 picks a free one)
  --key K           an accepted secret key; repeat for several (default ${EMULATOR_KEY})
  --latency MS      added latency per usage request (default 0)
  --jitter MS       ± jitter around --latency (default 0)
  --p500 P          probability 0..1 of a 500 with nothing applied
  --ambiguous P     probability 0..1 of applying the event, then failing (500 or dropped connection)
  --p429 P          probability 0..1 of a 429 rate limit

Admin routes (no key): GET /_emulator/ledger, GET|POST /_emulator/faults,
POST /_emulator/keys/revoke and /_emulator/keys/restore {"key": "…"}.

Point Meterline at it: STRIPE_SECRET_KEY=${EMULATOR_KEY} STRIPE_API_BASE=http://127.0.0.1:12111`;

const probability = z.coerce.number().min(0, "must be from 0 to 1").max(1, "must be from 0 to 1");
const ms = z.coerce.number().int("must be a whole number of milliseconds").min(0, "must be ≥ 0");

const flagsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535, "must be a port from 0 to 65535").default(12111),
  key: z
    .array(z.string().regex(/^(sk|rk)_(test|live)_\w+$/, "must look like sk_test_…"))
    .optional(),
  latency: ms.default(0),
  jitter: ms.default(0),
  p500: probability.default(0),
  ambiguous: probability.default(0),
  p429: probability.default(0),
});

/** `meterline emulator`: run the bundled Stripe emulator until a signal. */
export async function cmdEmulator(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    {
      host: { type: "string" },
      port: { type: "string" },
      key: { type: "string", multiple: true },
      latency: { type: "string" },
      jitter: { type: "string" },
      p500: { type: "string" },
      ambiguous: { type: "string" },
      p429: { type: "string" },
    },
    flagsSchema,
    HELP,
  );
  if (!parsed) return;
  const f = parsed.flags;
  const emulator = await startEmulator({
    host: f.host,
    port: f.port,
    apiKeys: f.key ?? [EMULATOR_KEY],
    faults: {
      latencyMs: f.latency,
      latencyJitterMs: f.jitter,
      p500: f.p500,
      pAmbiguous: f.ambiguous,
      p429: f.p429,
    },
  });
  process.stdout.write(
    `Stripe emulator on ${emulator.url} (key ${emulator.apiKey}); ledger at ${emulator.url}/_emulator/ledger\n`,
  );
  const stop = () => {
    emulator.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
