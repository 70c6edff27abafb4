import { z } from "zod";
import { eventIdSchema, fieldRules } from "../ingest/event-input.ts";
import { checkFilter } from "../ops/dead-letters-filter.ts";
import type { ActionView, DeadLetterView } from "../ops/dead-letters-view.ts";
import { addCauses, retryWarning } from "./dlq-warning.ts";
import {
  callApi,
  formatAge,
  type OperatorApi,
  operatorApi,
  operatorCommand,
} from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const FILTER_HELP = `Filters (together they narrow; ages count from when the event was dead-lettered):
  --code CODE         last error code, e.g. customer_deleted, timestamp_too_old
  --customer KEY      the platform's customer key
  --meter NAME        the meter's event_name
  --older-than AGE    dead-lettered at least this long ago: 30m, 2h, 7d
  --newer-than AGE    dead-lettered at most this long ago`;

const CONNECTION_HELP = `Talks to a running Meterline: METERLINE_API_URL and METERLINE_API_KEY (an admin key), or
the runtime.json a development "meterline start" saved in METERLINE_DATA_DIR.`;

const HELP = `Usage: meterline dlq <list|retry|discard|resolve> [options]

Dead letters: events that failed with a reason a person can act on.
  list                     show them (table, or --json)
  retry [IDS…]             send them again (same id, so the same Stripe identifier)
  discard [IDS…]           never send them
  resolve --delivered IDS  record that Stripe already holds them

Run "meterline dlq <subcommand> --help" for its options.
${CONNECTION_HELP}`;

const LIST_HELP = `Usage: meterline dlq list [filters] [--limit N] [--cursor C] [--json]

Lists dead letters, newest first, with their reason, and how many match in all.

${FILTER_HELP}
  --limit N           rows per page, 1 to 500 (default 50)
  --cursor C          the next page, as the previous page printed it
  --json              print the API's JSON`;

const ACTION_HELP = {
  retry: `Usage: meterline dlq retry (IDS… | filters | --all) [--dry-run] [--not-in-stripe] [--note TEXT] [--json]

Moves dead letters back to the queue, due now, with a full retry budget. The event keeps its
id, so Stripe's identifier is the same: a retry can never be counted twice while Stripe dedups
it (24 h). An event first sent more than the dedup window ago without a clear answer is refused:
check Stripe for its identifier (the event id), then "dlq resolve --delivered" it if Stripe has
it, or retry it with --not-in-stripe (you confirm Stripe does not; named ids only).`,
  discard: `Usage: meterline dlq discard (IDS… | filters | --all) [--dry-run] [--note TEXT] [--json]

Marks dead letters discarded: never sent, kept with their reason and an audit row.`,
  resolve: `Usage: meterline dlq resolve --delivered (IDS… | filters | --all) [--dry-run] [--note TEXT] [--json]

Marks dead letters reported without sending them: for events you confirmed Stripe holds (look
the identifier, which is the event id, up in Stripe's dashboard).`,
};

const ACTION_OPTIONS_HELP = `${FILTER_HELP}
  --all               every dead letter (instead of ids or filters)
  --dry-run           print how many would change, and a sample; change nothing
  --note TEXT         kept in each event's audit row (why you did it)
  --json              print the API's JSON`;

// Each filter flag and the API's name for it.
const filterFields = {
  code: "code",
  customer: "customer",
  meter: "event_name",
  "older-than": "older_than",
  "newer-than": "newer_than",
} as const;
type FilterFlag = keyof typeof filterFields;
const flagNames = Object.keys(filterFields) as FilterFlag[];
const filterOptions = Object.fromEntries(flagNames.map((f) => [f, { type: "string" as const }]));
const filterFlags = Object.fromEntries(flagNames.map((f) => [f, z.string().optional()]));

/** Flags → the API's filter object, checked here first so a typo is a usage error (exit 2). */
function apiFilter(flags: Partial<Record<string, unknown>>): Record<string, string> | null {
  const filter: Record<string, string> = {};
  for (const flag of flagNames) {
    const value = flags[flag];
    if (typeof value === "string") filter[filterFields[flag]] = value;
  }
  const checked = checkFilter(filter);
  if (!checked.ok) {
    // The API's messages name its fields; a CLI user reads the flag they typed.
    const flagOf = (w: string) => `--${flagNames.find((f) => filterFields[f] === w) ?? w}`;
    const say = (m: string) => m.replace(/^\w+/, flagOf).replace(/\b\w+_than\b/g, flagOf);
    throw new UsageError(checked.errors.map((e) => say(e.message)).join("\n"));
  }
  return Object.keys(filter).length > 0 ? filter : null;
}

/** `meterline dlq`: list, retry, discard and resolve dead letters through the admin API. */
export async function cmdDlq(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (sub === "list") return dlqList(rest);
  if (sub === "retry" || sub === "discard" || sub === "resolve") return dlqAction(sub, rest);
  throw new UsageError(`unknown subcommand "${sub}"\n\n${HELP}`);
}

async function dlqList(args: string[]): Promise<void> {
  const schema = z.object({
    ...filterFlags,
    limit: z.coerce.number().int().min(1).max(500).optional(),
    cursor: z.string().optional(),
    json: z.boolean().optional(),
  });
  const options = {
    ...filterOptions,
    limit: { type: "string" },
    cursor: { type: "string" },
    json: { type: "boolean" },
  } as const;
  const parsed = parseFlags(args, options, schema, LIST_HELP);
  if (!parsed) return;
  const f = parsed.flags;
  const extra = parsed.positionals.join(" ");
  if (extra) throw new UsageError(`dlq list takes no arguments (got "${extra}")\n\n${LIST_HELP}`);
  const query = new URLSearchParams(apiFilter(f) ?? {});
  if (f.limit !== undefined) query.set("limit", String(f.limit));
  if (f.cursor !== undefined) query.set("cursor", f.cursor);
  await operatorCommand("dlq", async () => {
    const api = await operatorApi();
    const qs = query.size > 0 ? `?${query}` : "";
    const page = await callApi<ListPage>(api, "GET", `/v1/dead-letters${qs}`);
    process.stdout.write(f.json ? `${JSON.stringify(page, null, 2)}\n` : renderList(page));
  });
}

/** What GET /v1/dead-letters answers. */
type ListPage = { data: DeadLetterView[]; matched: number; next_cursor: string | null };

function renderList(page: ListPage): string {
  if (page.data.length === 0) return "No dead letters match.\n";
  const now = Date.now();
  const width =
    process.stdout.columns && process.stdout.columns > 80 ? process.stdout.columns : 160;
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  const head = ["ID", "FAILED", "CODE", "CUSTOMER", "METER", "ATT", "REASON"];
  const body = page.data.map((d) => [
    cut(d.id, 40),
    `${formatAge(now - Date.parse(d.failed_at))} ago`,
    d.error.code ?? "-",
    cut(d.customer, 28),
    cut(d.event_name, 24),
    `${d.attempts}${d.dedup_window_expired ? "!" : ""}`,
    d.error.message ?? "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const fixed = widths.slice(0, -1).reduce((a, b) => a + b + 2, 0);
  const line = (r: string[]) =>
    r
      .map((c, i) =>
        i === r.length - 1 ? cut(c, Math.max(20, width - fixed)) : c.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const out = [line(head), ...body.map(line), ""];
  out.push(`${page.data.length} of ${page.matched} matching dead letters.`);
  if (page.next_cursor) out.push(`Next page: add --cursor ${page.next_cursor}`);
  if (page.data.some((d) => d.dedup_window_expired)) {
    out.push(
      "! first sent longer ago than Stripe dedups, without a clear answer: retry is refused. Check Stripe, then resolve --delivered, or retry --not-in-stripe.",
    );
  }
  // One full reason per code: what the person reads to choose retry, discard or resolve.
  out.push("", "Reasons (one example per code):");
  const byCode = new Map<string, DeadLetterView>();
  for (const d of page.data)
    if (!byCode.has(d.error.code ?? "-")) byCode.set(d.error.code ?? "-", d);
  for (const [code, d] of byCode) {
    out.push(`  ${code} (e.g. ${d.id}):`, `    ${d.error.message ?? "no message"}`);
  }
  return `${out.join("\n")}\n`;
}

type ActionName = keyof typeof ACTION_HELP;

async function dlqAction(action: ActionName, args: string[]): Promise<void> {
  const help = `${ACTION_HELP[action]}\n\nOptions:\n${ACTION_OPTIONS_HELP}`;
  const schema = z.object({
    ...filterFlags,
    all: z.boolean().optional(),
    "dry-run": z.boolean().optional(),
    note: z.string().min(1).max(500).optional(),
    json: z.boolean().optional(),
    "not-in-stripe": z.boolean().optional(),
    delivered: z.boolean().optional(),
  });
  const options = {
    ...filterOptions,
    all: { type: "boolean" },
    "dry-run": { type: "boolean" },
    note: { type: "string" },
    json: { type: "boolean" },
    ...(action === "retry" ? { "not-in-stripe": { type: "boolean" as const } } : {}),
    ...(action === "resolve" ? { delivered: { type: "boolean" as const } } : {}),
  } as const;
  const parsed = parseFlags(args, options, schema, help);
  if (!parsed) return;
  const f = parsed.flags;
  const ids = parsed.positionals;
  if (action === "resolve" && !f.delivered) {
    throw new UsageError(
      "resolve needs --delivered: it records that Stripe already holds the events (check Stripe first); nothing is sent",
    );
  }
  for (const id of ids) {
    if (!eventIdSchema.safeParse(id).success) {
      throw new UsageError(`event id "${id}" ${fieldRules.id}`);
    }
  }
  const filter = apiFilter(f);
  if ([ids.length > 0, filter !== null, f.all === true].filter(Boolean).length !== 1) {
    throw new UsageError(`give event ids, or filters, or --all (exactly one of them)\n\n${help}`);
  }
  if (ids.length > 1000) throw new UsageError("at most 1000 event ids at once: use filters");
  if (f["not-in-stripe"] && ids.length === 0) {
    throw new UsageError("--not-in-stripe needs event ids: your check, in Stripe, of each one");
  }
  const body = {
    ...(ids.length > 0 ? { ids } : { filter: filter ?? {} }),
    ...(f["dry-run"] ? { dry_run: true } : {}),
    ...(f.note ? { note: f.note } : {}),
    ...(f["not-in-stripe"] ? { confirm_not_in_stripe: true } : {}),
  };
  await operatorCommand("dlq", async () => {
    const api = await operatorApi();
    const result = await runBatches(api, action, body);
    process.stdout.write(f.json ? `${JSON.stringify(result, null, 2)}\n` : renderAction(result));
    const warning = retryWarning(result);
    if (warning !== null) process.stderr.write(`${warning}\n`);
    // Exit 1 when something the operator selected was not changed: scripts should know.
    return (result.unmatched_ids?.length ?? 0) === 0 && result.refused === undefined;
  });
}

/**
 * Posts the action, and again while a filter leaves matches beyond one call's batch. Bounded by
 * the first call's count, so events that fail again meanwhile cannot keep it going for ever.
 */
async function runBatches(api: OperatorApi, action: ActionName, body: object): Promise<ActionView> {
  const path = `/v1/dead-letters/${action}`;
  const first = await callApi<ActionView>(api, "POST", path, body);
  const total = { ...first, ids: [...first.ids] };
  let last = first;
  while (
    !first.dry_run &&
    last.remaining > 0 &&
    last.changed > 0 &&
    total.changed < first.matched
  ) {
    process.stderr.write(`… ${total.changed} so far, ${last.remaining} to go\n`);
    last = await callApi<ActionView>(api, "POST", path, body);
    total.changed += last.changed;
    total.ids.push(...last.ids);
    total.remaining = last.remaining;
    if (last.refused) total.refused = last.refused;
    if (last.will_fail_again) {
      total.will_fail_again = addCauses(total.will_fail_again, last.will_fail_again);
    }
  }
  return total;
}

const verbs = {
  retry: ["retried", "would retry"],
  discard: ["discarded", "would discard"],
  resolve: ["resolved as delivered", "would resolve as delivered"],
} as const;

function renderAction(r: ActionView): string {
  // Ten ids, then how many more there are in all (a dry run's ids are only a sample).
  const sample = (ids: string[], total = ids.length) =>
    `${ids.slice(0, 10).join(", ")}${total > 10 ? ` … and ${total - 10} more` : ""}`;
  const [done, would] = verbs[r.action];
  const out: string[] = [];
  if (r.dry_run) {
    out.push(
      `Dry run: ${would} ${r.would_change ?? 0} of ${r.matched} matching dead letters${r.ids.length > 0 ? `: ${sample(r.ids, r.would_change)}` : ""}.`,
      "Nothing was changed.",
    );
  } else {
    const what = `${done} ${r.changed} of ${r.matched} matching dead letters`;
    out.push(
      `${what.charAt(0).toUpperCase()}${what.slice(1)}${r.ids.length > 0 ? `: ${sample(r.ids)}` : "."}`,
    );
    if (r.remaining > 0) out.push(`${r.remaining} still match: run it again.`);
  }
  if (r.unmatched_ids && r.unmatched_ids.length > 0) {
    out.push(
      `Not dead letters (no such event, or not failed), left alone: ${sample(r.unmatched_ids)}`,
    );
  }
  if (r.refused) {
    out.push(
      `Refused ${r.refused.count} (${r.refused.code}): ${sample(r.refused.ids, r.refused.count)}`,
      `  ${r.refused.message}`,
    );
  }
  return `${out.join("\n")}\n`;
}
