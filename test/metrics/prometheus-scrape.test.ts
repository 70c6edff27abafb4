import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasPrometheus } from "../support/prometheus.ts";
import { METERLINE_BIN, startEnv } from "../support/start-env.ts";
import { waitFor } from "../support/wait.ts";

const DEPLOY = join(import.meta.dirname, "../../deploy");

/** A port free now (the kernel's pick): Prometheus takes no port 0. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || !address) throw new Error("no port");
  return address.port;
}

/** Waits for a child's stdout to contain `marker`; rejects if it exits first. */
function waitForOutput(child: ChildProcess, marker: string): Promise<string> {
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(marker)) resolve(out);
    });
    child.once("exit", (code) =>
      reject(new Error(`exited with ${code} before "${marker}": ${out}`)),
    );
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

// A real Prometheus, configured from deploy/prometheus/prometheus.yml (targets and key file
// pointed at this run), scraping a real `meterline start` on loopback: the API's /metrics with
// the admin key, and the process's own listener (METERLINE_METRICS_LISTEN) without one.
// Needs Debian's prometheus package: .ci/run installs it (test/support/prometheus.ts).
describe.skipIf(!hasPrometheus())("a real Prometheus scraping Meterline", () => {
  const dir = mkdtempSync(join(tmpdir(), "meterline-prometheus-"));
  let meterline: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let api = "";
  let key = "";
  let promUrl = "";
  /** The banner's example event: a customer and meter the development seed linked. */
  let example = { customer: "", event_name: "" };

  beforeAll(async () => {
    meterline = spawn(process.execPath, [METERLINE_BIN, "start"], {
      env: startEnv(join(dir, "data"), { METERLINE_METRICS_LISTEN: "127.0.0.1:0" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    meterline.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
    const banner = await waitForOutput(meterline, "Ctrl-C stops");
    api = /API:\s+(\S+)/.exec(banner)?.[1] ?? "";
    key = /Authorization: Bearer (\S+)'/.exec(banner)?.[1] ?? "";
    const listener = /Metrics:\s+(\S+)/.exec(banner)?.[1] ?? "";
    example = JSON.parse(/-d '(\{.*\})'/.exec(banner)?.[1] ?? "{}");
    expect(listener).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    writeFileSync(join(dir, "admin-key"), key);
    copyFileSync(join(DEPLOY, "prometheus/alerts.yml"), join(dir, "alerts.yml"));
    const config = readFileSync(join(DEPLOY, "prometheus/prometheus.yml"), "utf8")
      .replaceAll("15s", "1s")
      .replace("/etc/prometheus/meterline-admin-key", join(dir, "admin-key"))
      .replace('"meterline-api:3000"', `"${new URL(api).host}"`)
      .replace(
        '"meterline-worker-1:9464", "meterline-worker-2:9464"',
        `"${new URL(listener).host}"`,
      );
    expect(config).toContain(join(dir, "admin-key"));
    writeFileSync(join(dir, "prometheus.yml"), config);

    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    prometheus.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    await waitFor(
      `Prometheus to answer on ${promUrl} (log: ${log})`,
      async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok === true,
      30_000,
    );
  }, 120_000);

  afterAll(async () => {
    await stop(prometheus);
    await stop(meterline);
    rmSync(dir, { recursive: true, force: true });
  });

  /** An instant query's samples: labels and value. */
  async function query(
    expr: string,
  ): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  const firstValue = async (expr: string) => (await query(expr))[0]?.value;

  it("scrapes both targets: the API with the admin key, the listener without one", async () => {
    await waitFor(
      "both targets up",
      async () =>
        (await firstValue('up{job="meterline"}')) === 1 &&
        (await firstValue('up{job="meterline-worker"}')) === 1,
      30_000,
    );
  });

  it("sees events go from pending to reported, and the worker's requests to Stripe", async () => {
    const events = Array.from({ length: 5 }, (_, i) => ({
      id: `prom-${i}`,
      customer: example.customer,
      event_name: example.event_name,
      value: 1,
    }));
    const res = await fetch(`${api}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ events }),
    });
    expect(res.status).toBe(202);
    await waitFor(
      "5 reported events in Prometheus",
      async () =>
        (await firstValue(
          'sum(meterline_event_outcomes_total{job="meterline-worker",status="reported"})',
        )) === 5,
      30_000,
    );
    // Each target is scraped on its own schedule: wait for the API's next scrape too.
    const seen = (expr: string, ok: (v: number | undefined) => boolean) =>
      waitFor(`${expr} in Prometheus`, async () => ok(await firstValue(expr)), 30_000);
    await seen(
      'sum(meterline_ingest_events_total{job="meterline",result="accepted"})',
      (v) => v === 5,
    );
    await seen(
      'sum(meterline_stripe_requests_total{job="meterline-worker",outcome="ok"})',
      (v) => (v ?? 0) >= 1,
    );
    await seen('meterline_workers_live{job="meterline"}', (v) => v === 1);
    // The worker's periodic reconciliation ran at start: no drift on an empty account.
    await seen(
      'meterline_reconciliation_drift_groups{job="meterline",result="finished"}',
      (v) => v === 0,
    );
    await waitFor(
      "the queue gauge back to 0 pending",
      async () => ((await firstValue('sum(meterline_events_pending{job="meterline"})')) ?? 0) === 0,
      30_000,
    );
  });

  it("loads every alert rule, each evaluating without error", async () => {
    const alerts = [
      ...readFileSync(join(DEPLOY, "prometheus/alerts.yml"), "utf8").matchAll(/- alert: (\w+)/g),
    ].map((m) => m[1]);
    await waitFor(
      "every rule evaluated once",
      async () => {
        const res = await fetch(`${promUrl}/api/v1/rules`);
        const body = (await res.json()) as {
          data: {
            groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>;
          };
        };
        const rules = body.data.groups.flatMap((g) => g.rules);
        const bad = rules.filter((r) => r.health !== "ok");
        if (bad.some((r) => r.health === "err")) throw new Error(JSON.stringify(bad));
        return rules.length === alerts.length && bad.length === 0;
      },
      30_000,
    );
    // Nothing is wrong on a healthy run: no alert fires.
    expect(await query('ALERTS{alertstate="firing"}')).toEqual([]);
  });

  it("answers every query of the Grafana dashboard", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(DEPLOY, "grafana/meterline-dashboard.json"), "utf8"),
    ) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr]));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const [title, expr] of exprs) {
      // Grafana's own variable, as it would substitute it.
      const series = await query((expr ?? "").replaceAll("$__rate_interval", "1m"));
      expect(series.length, `${title}: ${expr}`).toBeGreaterThanOrEqual(0);
    }
    // A panel that must show something after the events above (a rate needs two scrapes).
    const reportedByMode =
      'sum by (mode) (rate(meterline_event_outcomes_total{job="meterline-worker",status="reported"}[1m]))';
    await waitFor(
      "the reported-per-second panel to show the mode",
      async () => (await query(reportedByMode)).map((s) => s.metric.mode).join() === "meter_events",
      30_000,
    );
  });
});
