import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METERLINE_BIN, startEnv } from "../support/start-env.ts";

// The quick start as a user runs it: `meterline start` on a fresh data folder, the curl command
// it prints, then `meterline demo` against it. Real processes, real HTTP, the bundled emulator.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-start-"));
const env = startEnv(dataDir);

let server: ChildProcess;
let banner = "";

beforeAll(async () => {
  server = spawn(process.execPath, [METERLINE_BIN, "start"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  await new Promise<void>((resolve, reject) => {
    server.stdout?.on("data", (d: Buffer) => {
      banner += d.toString();
      if (banner.includes("Ctrl-C stops")) resolve();
    });
    server.once("exit", (code) => reject(new Error(`start exited with ${code}: ${banner}`)));
  });
});

afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** Runs `meterline demo` with these flags against the running start; its exit code and output. */
function runDemo(flags: string[]): Promise<{ code: unknown; out: string }> {
  return runCommand(["demo", ...flags]);
}

/** Runs a `meterline` command against the running start; its exit code and output. */
async function runCommand(args: string[]): Promise<{ code: unknown; out: string }> {
  const child = spawn(process.execPath, [METERLINE_BIN, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  return { code, out };
}

/**
 * A demo of 180 events counts its own: all reported or dead-lettered, none pending, and not the
 * events of the tests (and demos) before it.
 */
function expectOwnCounts(out: string): void {
  const final = /Final: sent 180 \| reported (\d+) \| pending 0 \| dead-lettered (\d+)/.exec(out);
  expect(final, out).not.toBeNull();
  expect(Number(final?.[1]) + Number(final?.[2])).toBe(180);
}

/** Pulls the URL, key and JSON body out of the printed curl command. */
function printedCurl(): { url: string; key: string; body: string } {
  const url = /curl -s -X POST (\S+)/.exec(banner)?.[1];
  const key = /Authorization: Bearer (\S+)'/.exec(banner)?.[1];
  const body = /-d '(\{.*\})'/.exec(banner)?.[1];
  if (!url || !key || !body) throw new Error(`no curl example in:\n${banner}`);
  return { url, key, body };
}

describe("meterline start", () => {
  it("prints a curl example that is accepted, and the event is then reported", async () => {
    const { url, key, body } = printedCurl();
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0 });

    const id = (JSON.parse(body) as { id: string }).id;
    let event: { status: string; stripe_request_id: string | null } = {
      status: "",
      stripe_request_id: null,
    };
    for (let i = 0; i < 100 && event.status !== "reported"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const trace = await fetch(`${url}/${id}`, { headers: { authorization: `Bearer ${key}` } });
      event = (await trace.json()) as typeof event;
    }
    expect(event.status).toBe("reported");
    expect(event.stripe_request_id).toMatch(/^req_/);
  });

  it("the demo reports healthy events, dead-letters its poison pills with reasons, and the ledger matches", async () => {
    const demo = spawn(
      process.execPath,
      [METERLINE_BIN, "demo", "--duration", "3", "--rate", "60", "--customers", "5"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    demo.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    demo.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise((resolve) => demo.once("exit", resolve));
    expect(code, out).toBe(0);
    expectOwnCounts(out);
    expect(out).toMatch(/timestamp_too_old: \d+/);
    expect(out).toMatch(/\(deleted customer\): failed, customer_deleted: /);
    expect(out).toMatch(/\(timestamp 40 days old\): failed, timestamp_too_old: /);
    expect(out).toContain("Stripe's ledger matches what was sent");
  });

  // The other two delivery modes: the same poison pills, the same ledger check, through the v2
  // stream and through legacy usage records (subscriptions created by the demo).
  it.each([
    ["stream", "demo_api_calls_stream"],
    ["usage-records", "demo_api_calls_records"],
  ])(
    "the demo in --mode %s reports through that API, dead-letters the poison pills, and the ledger matches",
    async (mode, meter) => {
      const { code, out } = await runDemo([
        "--mode",
        mode,
        "--duration",
        "3",
        "--rate",
        "60",
        "--customers",
        "5",
      ]);
      expect(code, out).toBe(0);
      expect(out).toContain(`Demo mode ${mode}: meter ${meter}, 5 customers.`);
      expectOwnCounts(out);
      expect(out).toMatch(/\(deleted customer\): failed, customer_deleted: /);
      expect(out).toMatch(/\(timestamp 40 days old\): failed, timestamp_too_old: /);
      expect(out).toContain("Stripe's ledger matches what was sent: 5 customers");
    },
  );

  // After the demos above (three delivery modes, poison pills, async rejections): Stripe's
  // hourly totals, and the usage-records periods' totals, equal what Meterline reported. No settle margin: everything has settled.
  it("meterline reconcile finds no drift after the demos, as a table, JSON and CSV", async () => {
    const run = (flags: string[]) => runCommand(["reconcile", "--settle-minutes", "0", ...flags]);
    const table = await run([]);
    expect(table.code, table.out).toBe(0);
    expect(table.out).toContain("No drift: Stripe counts what Meterline reported.");
    const json = await run(["--json"]);
    expect(json.code, json.out).toBe(0);
    const report = JSON.parse(json.out);
    expect(report).toMatchObject({ drift_groups: 0, drift: [], error: null });
    expect(report.groups).toBeGreaterThan(0);
    expect(report.meterline_total).toBe(report.stripe_total);
    const csv = await run(["--csv"]);
    expect(csv.out.trim()).toBe(
      "customer,stripe_customer_id,event_name,stripe_meter_id,hour,meterline,stripe,difference,events,event_ids,subscription_item,period_end",
    );
    const latest = await runCommand(["reconcile", "--latest", "--json"]);
    expect(JSON.parse(latest.out).id).toBe(report.id + 1);
  });

  it("a second process cannot open the same embedded database, and says why", async () => {
    const keys = spawn(process.execPath, [METERLINE_BIN, "keys", "list"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    keys.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise((resolve) => keys.once("exit", resolve));
    expect(code).toBe(1);
    expect(err).toContain("is open in process");
  });
});
