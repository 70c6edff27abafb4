import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator, startEmulatorThread } from "../../src/emulator/index.ts";
import { METERLINE_BIN, startEnv } from "../support/start-env.ts";
import { clientFor } from "./helpers.ts";

// The emulator on a thread of its own, as `meterline start` runs it (src/emulator/thread/).

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "emulator-thread-"));
  dirs.push(dir);
  return dir;
}

/** Whether anything answers HTTP at `url`. */
async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/_emulator/clock`).then(
    () => true,
    () => false,
  );
}

describe("startEmulatorThread", () => {
  it("serves Stripe's API from its thread, takes event destinations, and closes with its state written", async () => {
    const stateFile = join(await tempDir(), "stripe.json");
    const emu = await startEmulatorThread({ port: 0, stateFile });
    let lost = false;
    void emu.lost.then(() => {
      lost = true;
    });
    const stripe = new Stripe(emu.apiKey, {
      host: "127.0.0.1",
      port: emu.port,
      protocol: "http",
      maxNetworkRetries: 0,
    });
    const customer = await stripe.customers.create({ name: "Threaded" });
    const res = await fetch(`${emu.url}/v1/customers/${customer.id}`, {
      headers: { authorization: `Bearer ${emu.apiKey}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^req_[0-9A-Za-z]{14}$/);

    await emu.addEventDestination({ url: "http://127.0.0.1:9/hooks", secret: "whsec_test" });
    const destinations = await fetch(`${emu.url}/_emulator/event-destinations`);
    expect(await destinations.json()).toEqual([{ url: "http://127.0.0.1:9/hooks" }]);

    await emu.close();
    expect(await answers(emu.url)).toBe(false);
    await emu.close(); // twice is once
    expect(lost).toBe(false);

    // What it wrote is what an emulator started on the same file finds.
    const again = await startEmulator({ port: 0, stateFile });
    try {
      expect((await clientFor(again).customers.retrieve(customer.id)).id).toBe(customer.id);
    } finally {
      await again.close();
    }
  });

  it("a taken port rejects the start with EADDRINUSE, as in-process", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const address = taken.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      await expect(startEmulatorThread({ port })).rejects.toMatchObject({ code: "EADDRINUSE" });
    } finally {
      taken.close();
    }
  });
});

describe("meterline start", () => {
  let server: ChildProcess | null = null;
  afterEach(() => {
    if (server?.exitCode === null) server.kill("SIGKILL");
  });

  it("runs the emulator on its own thread: it answers, and SIGTERM stops everything with its state written", async () => {
    const dataDir = await tempDir();
    const env = startEnv(dataDir, { METERLINE_WORKER: "false" });
    const started = spawn(process.execPath, [METERLINE_BIN, "start"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    server = started;
    let out = "";
    started.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    started.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => started.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      started.stdout?.on("data", () => {
        if (out.includes("Ctrl-C stops")) resolve();
      });
      void exited.then((code) => reject(new Error(`start exited with ${code}: ${out}`)));
    });
    const url = /bundled emulator at (http:\/\/\S+)\)/.exec(out)?.[1];
    if (!url) throw new Error(`no emulator URL in:\n${out}`);

    // The development seed made its customer through the emulator; it answers for it.
    const list = await fetch(`${url}/v1/customers`, {
      headers: { authorization: "Bearer sk_test_emulator" },
    });
    expect(list.status).toBe(200);
    const { data } = (await list.json()) as { data: Array<{ id: string }> };
    expect(data.length).toBeGreaterThan(0);

    started.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await answers(url)).toBe(false);

    const again = await startEmulator({
      port: 0,
      stateFile: join(dataDir, "stripe-emulator.json"),
    });
    try {
      const customers = await clientFor(again).customers.list();
      expect(customers.data.map((c) => c.id)).toEqual(data.map((c) => c.id));
    } finally {
      await again.close();
    }
  });
});
