import { z } from "zod";
import { RECONCILE_HOURS, SETTLE_MINUTES } from "../reconcile/limits.ts";
import type { reconciliationView } from "../reconcile/reconciliations-route.ts";
import { callApi, operatorApi, operatorCommand } from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

type Reconciliation = ReturnType<typeof reconciliationView>;

const HELP = `Usage: meterline reconcile [--hours N] [--settle-minutes N] [--json | --csv] [--latest]

Compares what Meterline reported with Stripe's own totals, and prints every difference with the
events behind it: meter events per customer × meter × hour of the events' timestamps (meter
event summaries); legacy usage records per subscription item × billing period (usage record
summaries: Stripe sums those per period, so a period is compared whole). Exit code 0: no drift;
1: drift found (or the run failed).

  --hours N            hours back from the end of this hour (default ${RECONCILE_HOURS.default}, at most ${RECONCILE_HOURS.max})
  --settle-minutes N   leave out groups with an event reported this recently: Stripe's totals
                       lag (default ${SETTLE_MINUTES.default})
  --latest             print the last run instead of running one
  --json               the API's JSON
  --csv                one line per difference: customer, meter, hour, meterline, stripe,
                       difference, events, event ids, subscription item and period end (usage
                       records)

Talks to a running Meterline: METERLINE_API_URL and METERLINE_API_KEY (an admin key), or the
runtime.json a development "meterline start" saved in METERLINE_DATA_DIR.`;

/** `meterline reconcile`: POST /v1/reconciliations (or GET …/latest), as a table, JSON or CSV. */
export async function cmdReconcile(args: string[]): Promise<void> {
  const parsed = parseFlags(
    args,
    {
      hours: { type: "string" },
      "settle-minutes": { type: "string" },
      latest: { type: "boolean" },
      json: { type: "boolean" },
      csv: { type: "boolean" },
    },
    z.object({
      hours: z.coerce.number().int().min(1).max(RECONCILE_HOURS.max).optional(),
      "settle-minutes": z.coerce.number().int().min(0).max(SETTLE_MINUTES.max).optional(),
      latest: z.boolean().optional(),
      json: z.boolean().optional(),
      csv: z.boolean().optional(),
    }),
    HELP,
  );
  if (!parsed) return;
  const { flags } = parsed;
  if (parsed.positionals.length > 0)
    throw new UsageError(`reconcile takes no arguments\n\n${HELP}`);
  if (flags.json && flags.csv) throw new UsageError(`--json and --csv: pick one\n\n${HELP}`);
  if (flags.latest && (flags.hours !== undefined || flags["settle-minutes"] !== undefined)) {
    throw new UsageError(
      `--latest prints the last run: it takes no --hours or --settle-minutes\n\n${HELP}`,
    );
  }
  await operatorCommand("reconcile", async () => {
    const api = await operatorApi();
    const run = flags.latest
      ? await callApi<Reconciliation>(api, "GET", "/v1/reconciliations/latest")
      : await callApi<Reconciliation>(api, "POST", "/v1/reconciliations", {
          ...(flags.hours !== undefined ? { hours: flags.hours } : {}),
          ...(flags["settle-minutes"] !== undefined
            ? { settle_minutes: flags["settle-minutes"] }
            : {}),
        });
    if (flags.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    else if (flags.csv) process.stdout.write(renderCsv(run));
    else process.stdout.write(renderReport(run));
    return run.error === null && run.drift_groups === 0;
  });
}

/** A CSV field: quoted when it holds a comma, a quote or a line break. */
function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One line per difference, with a header line. Pure. */
export function renderCsv(run: Reconciliation): string {
  const header =
    "customer,stripe_customer_id,event_name,stripe_meter_id,hour,meterline,stripe,difference,events,event_ids,subscription_item,period_end";
  const lines = run.drift.map((d) =>
    [
      d.customer,
      d.stripe_customer_id,
      d.event_name,
      d.stripe_meter_id,
      d.hour,
      d.meterline,
      d.stripe,
      d.difference,
      d.events,
      d.event_ids.join(" "),
      d.subscription_item ?? "",
      d.period_end ?? "",
    ]
      .map(csvField)
      .join(","),
  );
  return `${[header, ...lines].join("\n")}\n`;
}

/** A group's hour, or a usage-records group's billing period, as the table shows it. */
function when(d: Reconciliation["drift"][number]): string {
  const minute = (iso: string) => iso.slice(0, 16).replace("T", " ");
  if (d.subscription_item === undefined) return minute(d.hour);
  return `period ${minute(d.hour)} to ${d.period_end === undefined ? "now" : minute(d.period_end)}`;
}

/** The report as a person reads it. Pure. */
export function renderReport(run: Reconciliation): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const lines = [
    `Reconciliation ${run.id}: events timed ${run.range_start} to ${run.range_end}, run ${run.started_at} by ${run.ran_by}`,
  ];
  if (run.error !== null) {
    lines.push(`  failed: ${run.error}`);
    return `${lines.join("\n")}\n`;
  }
  lines.push(
    `  ${n(run.groups)} groups compared (customer × meter × hour; × billing period for usage records); Meterline ${n(run.meterline_total)}, Stripe ${n(run.stripe_total)}` +
      (run.settling_groups > 0
        ? `; ${n(run.settling_groups)} left out (reported too recently for Stripe's totals)`
        : ""),
  );
  if (run.drift.length === 0) {
    lines.push("  No drift: Stripe counts what Meterline reported.");
    return `${lines.join("\n")}\n`;
  }
  lines.push(`  Drift in ${n(run.drift_groups)} groups:`, "");
  const table = [
    ["customer", "meter", "hour (UTC)", "meterline", "stripe", "difference", "events of the group"],
    ...run.drift.map((d) => [
      d.customer,
      d.event_name,
      when(d),
      n(d.meterline),
      n(d.stripe),
      (d.difference > 0 ? "+" : "") + n(d.difference),
      d.events === 0
        ? "(none reported by Meterline)"
        : `${d.event_ids.join(", ")}${d.events > d.event_ids.length ? `, … (${n(d.events)} in all)` : ""}`,
    ]),
  ];
  const widths = table[0]?.map((_, c) => Math.max(...table.map((r) => (r[c] ?? "").length))) ?? [];
  const numeric = new Set([3, 4, 5]);
  for (const r of table) {
    lines.push(
      `  ${r
        .map((cell, c) =>
          c === r.length - 1
            ? cell
            : numeric.has(c)
              ? cell.padStart(widths[c] ?? 0)
              : cell.padEnd(widths[c] ?? 0),
        )
        .join("  ")}`,
    );
  }
  lines.push(
    "",
    "A negative difference: Stripe counted less than Meterline reported (an event cancelled or",
    "rejected after its 200); a positive one: Stripe counted more (a resend Stripe did not",
    "deduplicate). trace ID shows each event's history.",
  );
  return `${lines.join("\n")}\n`;
}
