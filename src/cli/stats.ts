import { z } from "zod";
import type { QueueStats } from "../ops/stats.ts";
import { callApi, formatAge, operatorApi, operatorCommand } from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline stats [--json]

The queue at a glance (GET /v1/stats): pending (due, in flight, scheduled, and why events wait),
reported, dead letters by code, discarded.

  --json   print the API's JSON

Talks to a running Meterline: METERLINE_API_URL and METERLINE_API_KEY (an admin key), or the
runtime.json a development "meterline start" saved in METERLINE_DATA_DIR.`;

/** `meterline stats`: the queue counts of GET /v1/stats, readable or as JSON. */
export async function cmdStats(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    { json: { type: "boolean" } },
    z.object({ json: z.boolean().optional() }),
    HELP,
  );
  if (!parsed) return;
  if (parsed.positionals.length > 0) throw new UsageError(`stats takes no arguments\n\n${HELP}`);
  const json = parsed.flags.json === true;
  await operatorCommand("stats", async () => {
    const stats = await callApi<QueueStats>(await operatorApi(), "GET", "/v1/stats");
    process.stdout.write(json ? `${JSON.stringify(stats, null, 2)}\n` : renderStats(stats));
  });
}

/** The stats as a person reads them. Pure but for the clock. */
export function renderStats(s: QueueStats, now = Date.now()): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const width = Math.max(
    ...[s.pending.total, s.reported, s.failed, s.discarded].map((x) => n(x).length),
  );
  const row = (label: string, x: number, detail = "") =>
    `  ${label.padEnd(10)}${n(x).padStart(width)}${detail ? `   ${detail}` : ""}`;
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(" · ");
  const p = s.pending;
  const lines = [
    "Queue",
    row(
      "pending",
      p.total,
      `due ${n(p.due)} · in flight ${n(p.leased)} · scheduled ${n(p.scheduled)}`,
    ),
  ];
  const indent = " ".repeat(12 + width + 3);
  if (p.oldest_received_at) {
    const age = formatAge(now - Date.parse(p.oldest_received_at));
    lines.push(`${indent}oldest received ${p.oldest_received_at} (${age} ago)`);
  }
  if (Object.keys(p.by_wait_reason).length > 0) {
    lines.push(`${indent}waiting: ${list(p.by_wait_reason)}`);
  }
  lines.push(
    row("reported", s.reported),
    row("failed", s.failed, list(s.failed_by_code)),
    row("discarded", s.discarded),
  );
  const removed = s.removed.reported + s.removed.discarded;
  if (removed > 0) {
    lines.push(
      `${indent}of reported and discarded, removed by retention: ${n(s.removed.reported)} · ${n(s.removed.discarded)}`,
    );
  }
  if (s.failed > 0) lines.push("", 'Dead letters and their reasons: "meterline dlq list".');
  return `${lines.join("\n")}\n`;
}
