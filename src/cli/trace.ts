import { z } from "zod";
import type { EventTrace } from "../ingest/event-trace.ts";
import { callApi, formatAge, operatorApi, operatorCommand } from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline trace <event id> [--json]

An event's whole story (GET /v1/events/:id): where it stands, why it waits or failed, and every
attempt — the reporter's and the operators' (retry, discard, resolve) — oldest first.

  --json   print the API's JSON

Talks to a running Meterline: METERLINE_API_URL and METERLINE_API_KEY, or the runtime.json a
development "meterline start" saved in METERLINE_DATA_DIR.`;

/** `meterline trace <id>`: an event and every attempt, readable or as JSON. */
export async function cmdTrace(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    { json: { type: "boolean" } },
    z.object({ json: z.boolean().optional() }),
    HELP,
  );
  if (!parsed) return;
  const [id, ...extra] = parsed.positionals;
  if (id === undefined || extra.length > 0) {
    throw new UsageError(`trace takes exactly one event id\n\n${HELP}`);
  }
  const json = parsed.flags.json === true;
  await operatorCommand("trace", async () => {
    const api = await operatorApi();
    const trace = await callApi<EventTrace>(api, "GET", `/v1/events/${encodeURIComponent(id)}`);
    process.stdout.write(json ? `${JSON.stringify(trace, null, 2)}\n` : renderTrace(trace));
  });
}

/** A trace as a person reads it. Pure but for the clock. */
export function renderTrace(t: EventTrace, now = Date.now()): string {
  const when = (iso: string) => `${iso} (${formatAge(now - Date.parse(iso))} ago)`;
  const field = (label: string, value: string) => `  ${label.padEnd(11)}${value}`;
  const lines = [
    `Event ${t.id}: ${t.status}`,
    field("customer", t.customer),
    field("meter", t.event_name),
    field("value", String(t.value)),
    field("occurred", t.occurred_at),
    field("received", when(t.received_at)),
    field("attempts", `${t.attempts} counted`),
  ];
  if (t.status === "pending") {
    const due = Date.parse(t.next_attempt_at) <= now ? "due now" : `next ${t.next_attempt_at}`;
    lines.push(field("waits", `${t.wait_reason ?? "no reason given"}, ${due}`));
  }
  if (t.lease)
    lines.push(field("in flight", `${t.lease.owner}, lease until ${t.lease.expires_at}`));
  if (t.reported_at) {
    const via = t.stripe_request_id ? ` (Stripe request ${t.stripe_request_id})` : "";
    lines.push(field("reported", `${when(t.reported_at)}${via}`));
  }
  if (t.failed_at)
    lines.push(field(t.status === "discarded" ? "dead since" : "failed", when(t.failed_at)));
  if (t.last_error) {
    const e = t.last_error;
    const extra = [e.http_status && `HTTP ${e.http_status}`, e.request_id].filter(Boolean);
    // Kept after a retry until an attempt writes its own: on a live event it is history.
    const label = t.status === "failed" || t.status === "discarded" ? "last error" : "past error";
    lines.push(
      field(label, `${e.code ?? "-"}${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`),
      `${" ".repeat(13)}${e.message ?? ""}`,
    );
  }
  lines.push("", t.history.length === 0 ? "No attempts yet." : `History (${t.history.length}):`);
  for (const a of t.history) {
    const answer = [a.http_status && `HTTP ${a.http_status}`, a.stripe_code, a.request_id]
      .filter(Boolean)
      .join(" ");
    lines.push(
      `  ${a.finished_at}  #${a.attempt}  ${a.worker}${a.worker_alive === false ? " (gone)" : ""}  ${a.outcome}${answer ? `  ${answer}` : ""}`,
    );
    if (a.message) lines.push(`      ${a.message}`);
  }
  return `${lines.join("\n")}\n`;
}
