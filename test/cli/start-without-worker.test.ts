import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METERLINE_BIN, startEnv } from "../support/start-env.ts";

// The defect: METERLINE_WORKER=false was parsed and ignored by `start`, which always ran a
// reporter worker. Now `start` runs the API and the bundled emulator only.
const dataDir = mkdtempSync(join(tmpdir(), "meterline-no-worker-"));
const POLL_MS = 50;
const env = startEnv(dataDir, { METERLINE_WORKER: "false", METERLINE_POLL_MS: String(POLL_MS) });

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

/** The API's URL and the development key, from the printed curl command. */
function printed(): { api: string; key: string; body: string } {
  const api = /API:\s+(\S+)/.exec(banner)?.[1];
  const key = /Authorization: Bearer (\S+)'/.exec(banner)?.[1];
  const body = /-d '(\{.*\})'/.exec(banner)?.[1];
  if (!api || !key || !body) throw new Error(`no curl example in:\n${banner}`);
  return { api, key, body };
}

describe("meterline start with METERLINE_WORKER=false", () => {
  it("METERLINE_WORKER=false runs no worker: an accepted event stays pending", async () => {
    expect(banner).toContain("no reporter worker (METERLINE_WORKER=false)");
    const { api, key, body } = printed();
    const auth = { authorization: `Bearer ${key}` };
    const res = await fetch(`${api}/v1/events`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(202);

    // Many poll intervals: a worker, had one run, would have claimed and reported it by now.
    await new Promise((resolve) => setTimeout(resolve, 20 * POLL_MS));
    const id = (JSON.parse(body) as { id: string }).id;
    const trace = await fetch(`${api}/v1/events/${id}`, { headers: auth });
    expect(await trace.json()).toMatchObject({
      status: "pending",
      attempts: 0,
      lease: null,
      history: [],
    });

    // No worker registered itself, and readiness says so without failing.
    const listed = await fetch(`${api}/v1/workers`, { headers: auth });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toMatchObject({ data: [], live: 0 });
    const ready = await fetch(`${api}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, workers: { live: 0 } });
  });
});
