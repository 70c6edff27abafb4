import { z } from "zod";
import { eventIdSchema, fieldRules } from "../ingest/event-input.ts";
import { checkPendingFilter, REASON_MAX } from "../ops/pending-input.ts";
import type { CancelView } from "../ops/pending-view.ts";
import { callApi, type OperatorApi, operatorApi, operatorCommand } from "./operator-api.ts";
import { parseFlags, UsageError } from "./usage-error.ts";

const HELP = `Usage: meterline cancel (IDS… | filters) --reason TEXT [--dry-run] [--json]

Cancels pending events: they will never be sent to Stripe (pending → discarded), for events
that must not be billed, e.g. one dated in 2100 that would otherwise wait until then. Each keeps
its row, with your reason, who did it and an audit row (meterline trace ID shows them).

An event a worker is sending right now (leased) is refused: cancelling it could lose a delivery
Stripe already counted; try again in a few seconds. Named ids are all or nothing: one unknown id,
or one that is not pending or is being sent, and nothing is cancelled. An event sent before
(an earlier attempt) is cancelled too, and the answer says Stripe may hold it: look its
identifier (the event id) up in Stripe, where a meter event adjustment can cancel it within 24 h.

Options:
  --reason TEXT       required: why, in your words (1 to ${REASON_MAX} characters); kept in each
                      event's audit row and last error
  --dry-run           print how many would be cancelled, and a sample; change nothing
  --json              print the API's JSON

Filters (together they narrow; at least one; ages count from when the event was received):
  --customer KEY      the platform's customer key
  --meter NAME        the meter's event_name
  --wait-reason WHY   what it waits for, e.g. timestamp_in_future (meterline stats lists them)
  --older-than AGE    received at least this long ago: 30m, 2h, 7d
  --newer-than AGE    received at most this long ago

Talks to a running Meterline: METERLINE_API_URL and METERLINE_API_KEY (an admin key), or
the runtime.json a development "meterline start" saved in METERLINE_DATA_DIR.`;

// Each filter flag and the API's name for it.
const filterFields = {
  customer: "customer",
  meter: "event_name",
  "wait-reason": "wait_reason",
  "older-than": "older_than",
  "newer-than": "newer_than",
} as const;
type FilterFlag = keyof typeof filterFields;
const flagNames = Object.keys(filterFields) as FilterFlag[];

/** Flags → the API's filter object (null: none given), checked here so a typo exits 2. */
function apiFilter(flags: Partial<Record<string, unknown>>): Record<string, string> | null {
  const filter: Record<string, string> = {};
  for (const flag of flagNames) {
    const value = flags[flag];
    if (typeof value === "string") filter[filterFields[flag]] = value;
  }
  if (Object.keys(filter).length === 0) return null;
  const checked = checkPendingFilter(filter);
  if (!checked.ok) {
    // The API's messages name its fields; a CLI user reads the flag they typed.
    const flagOf = (w: string) => `--${flagNames.find((f) => filterFields[f] === w) ?? w}`;
    const say = (m: string) =>
      m.replace(/^\w+/, flagOf).replace(/\b(older_than|newer_than)\b/g, flagOf);
    throw new UsageError(checked.errors.map((e) => say(e.message)).join("\n"));
  }
  return filter;
}

/** `meterline cancel`: cancel pending events, with a reason, through the admin API. */
export async function cmdCancel(args: string[]): Promise<void> {
  const schema = z.object({
    ...Object.fromEntries(flagNames.map((f) => [f, z.string().optional()])),
    reason: z.string().optional(),
    "dry-run": z.boolean().optional(),
    json: z.boolean().optional(),
  });
  const options = {
    ...Object.fromEntries(flagNames.map((f) => [f, { type: "string" as const }])),
    reason: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  } as const;
  const parsed = parseFlags(args, options, schema, HELP);
  if (!parsed) return;
  const f = parsed.flags;
  const ids = parsed.positionals;
  const reason = f.reason?.trim() ?? "";
  if (reason.length === 0) {
    throw new UsageError(
      "--reason is required: say why, in your words; it is kept in each event's audit row",
    );
  }
  if (reason.length > REASON_MAX) {
    throw new UsageError(`--reason must be 1 to ${REASON_MAX} characters (got ${reason.length})`);
  }
  for (const id of ids) {
    if (!eventIdSchema.safeParse(id).success) {
      throw new UsageError(`event id "${id}" ${fieldRules.id}`);
    }
  }
  const filter = apiFilter(f);
  if (ids.length > 0 === (filter !== null)) {
    throw new UsageError(`give event ids, or filters (exactly one of them)\n\n${HELP}`);
  }
  if (ids.length > 1000) throw new UsageError("at most 1000 event ids at once: use filters");
  const body = {
    ...(ids.length > 0 ? { ids } : { filter }),
    reason,
    ...(f["dry-run"] ? { dry_run: true } : {}),
  };
  await operatorCommand("cancel", async () => {
    const api = await operatorApi();
    const result = await runBatches(api, body);
    process.stdout.write(f.json ? `${JSON.stringify(result, null, 2)}\n` : renderCancel(result));
    // Exit 1 when something the operator selected was not cancelled: scripts should know.
    return result.refused === undefined;
  });
}

/**
 * Posts the cancel, and again while a filter leaves matches beyond one call's batch. Bounded by
 * the first call's count, so new matching events arriving meanwhile cannot keep it going for ever.
 */
async function runBatches(api: OperatorApi, body: object): Promise<CancelView> {
  const path = "/v1/events/cancel";
  const first = await callApi<CancelView>(api, "POST", path, body);
  const total = { ...first, ids: [...first.ids] };
  let last = first;
  while (
    !first.dry_run &&
    last.remaining > 0 &&
    last.changed > 0 &&
    total.changed < Math.min(first.matched, first.changed + first.remaining)
  ) {
    process.stderr.write(`… ${total.changed} so far, ${last.remaining} to go\n`);
    last = await callApi<CancelView>(api, "POST", path, body);
    total.changed += last.changed;
    total.ids.push(...last.ids);
    total.remaining = last.remaining;
    if (last.refused) total.refused = last.refused;
    if (last.sent_before) {
      total.sent_before = {
        ...last.sent_before,
        count: (total.sent_before?.count ?? 0) + last.sent_before.count,
        ids: [...(total.sent_before?.ids ?? []), ...last.sent_before.ids].slice(0, 20),
      };
    }
  }
  return total;
}

/** Ten ids, then how many more there are in all (a dry run's ids are only a sample). */
function sample(ids: string[], total = ids.length): string {
  return `${ids.slice(0, 10).join(", ")}${total > 10 ? ` … and ${total - 10} more` : ""}`;
}

/** A cancel's answer as a person reads it. Pure. */
export function renderCancel(r: CancelView): string {
  const out: string[] = [];
  if (r.dry_run) {
    out.push(
      `Dry run: would cancel ${r.would_change ?? 0} of ${r.matched} matching pending events${r.ids.length > 0 ? `: ${sample(r.ids, r.would_change)}` : ""}.`,
      "Nothing was changed.",
    );
  } else {
    out.push(
      `Cancelled ${r.changed} of ${r.matched} matching pending events${r.ids.length > 0 ? `: ${sample(r.ids)}` : "."}`,
    );
    if (r.remaining > 0) out.push(`${r.remaining} still match: run it again.`);
  }
  if (r.sent_before) {
    out.push(
      `Sent to Stripe before, so Stripe may hold them: ${sample(r.sent_before.ids, r.sent_before.count)}`,
      `  ${r.sent_before.message}`,
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
