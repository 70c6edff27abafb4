import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseListen } from "../../src/config.ts";
import { startMetricsListener } from "../../src/metrics/listener.ts";
import { samples } from "../support/prom-text.ts";

describe("METERLINE_METRICS_LISTEN", () => {
  it("takes a port (on loopback) or host:port, an IPv6 host in brackets", () => {
    expect(parseListen("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListen("0.0.0.0:9464")).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListen("metrics.internal:9100")).toEqual({ host: "metrics.internal", port: 9100 });
    expect(loadConfig({}).metrics).toEqual({ public: false, listen: null });
  });

  it("refuses anything else, naming the variable and the rule", () => {
    for (const [value, rule] of [
      ["http://0.0.0.0:9464", "must be a port (9464) or host:port"],
      ["9464:", "must be a port (9464) or host:port"],
      ["::1:9464", "must be a port (9464) or host:port"],
      ["99999", "the port must be 0 to 65535"],
    ] as const) {
      let problem: unknown;
      try {
        loadConfig({ METERLINE_METRICS_LISTEN: value });
      } catch (err) {
        problem = err;
      }
      expect(problem, value).toBeInstanceOf(ConfigError);
      expect((problem as ConfigError).problems[0], value).toContain("METERLINE_METRICS_LISTEN: ");
      expect((problem as ConfigError).problems[0], value).toContain(rule);
    }
  });
});

describe("the metrics listener", () => {
  it("answers GET /metrics with the registry, without a key, and 404 to anything else", async () => {
    const registry = new Registry();
    new Counter({ name: "probe_total", help: "a probe", registers: [registry] }).inc(3);
    const listener = await startMetricsListener(registry, { host: "127.0.0.1", port: 0 });
    try {
      expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(listener.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(samples(await res.text()).get("probe_total")).toBe(3);
      const other = await fetch(listener.url.replace("/metrics", "/"));
      expect(other.status).toBe(404);
      const post = await fetch(listener.url, { method: "POST" });
      expect(post.status).toBe(404);
    } finally {
      await listener.close();
    }
  });

  it("fails to start, naming the address, when the port is taken", async () => {
    const registry = new Registry();
    const first = await startMetricsListener(registry, { host: "127.0.0.1", port: 0 });
    try {
      const port = Number(new URL(first.url).port);
      await expect(startMetricsListener(registry, { host: "127.0.0.1", port })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});
