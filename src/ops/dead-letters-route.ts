import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Config } from "../config.ts";
import type { Db } from "../db/connect.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { discardDeadLetters } from "../outbox/dlq-discard.ts";
import { listDeadLetters } from "../outbox/dlq-list.ts";
import { resolveDeadLetters } from "../outbox/dlq-resolve.ts";
import { type RetryOutcome, retryDeadLetters } from "../outbox/dlq-retry.ts";
import type { DlqOutcome, DlqRun } from "../outbox/dlq-statement.ts";
import {
  type ActionInput,
  actionBodyDoc,
  actionBodyRules,
  type DlqActionName,
  encodeCursor,
  listQueryDoc,
  listQueryRules,
  parseActionBody,
  parseListQuery,
} from "./dead-letters-input.ts";
import {
  actionView,
  actionViewSchema,
  deadLetterView,
  deadLetterViewSchema,
  refusalMessage,
} from "./dead-letters-view.ts";

const actions: readonly DlqActionName[] = ["retry", "discard", "resolve"];

const listDoc: RouteDoc = {
  tag: "Dead letters",
  summary:
    "Dead letters (events that failed), newest first, by code, customer, event_name and age.",
  description:
    "Each row says why it failed and the operator's next step. Pages: pass the answer's " +
    "`next_cursor` as `cursor` for the next page; null means there is none.",
  query: listQueryDoc,
  rules: listQueryRules,
  responses: {
    200: z.object({
      data: z.array(deadLetterViewSchema),
      matched: z.number().int().describe("Dead letters the filter matches, on every page"),
      next_cursor: z.string().nullable(),
    }),
  },
  errors: { 400: [ErrorCode.invalid_query, ErrorCode.invalid_cursor] },
};

const actionSummaries: Record<DlqActionName, string> = {
  retry: "Send dead letters again: named ids, or a filter's matches.",
  discard: "Give up on dead letters for good: named ids, or a filter's matches.",
  resolve: "Mark dead letters as delivered (Stripe has them): named ids, or a filter's matches.",
};

function actionDoc(action: DlqActionName): RouteDoc {
  return {
    tag: "Dead letters",
    summary: actionSummaries[action],
    description:
      'Exactly one of `ids` and `filter` (`{}` selects every dead letter). `"dry_run": true` ' +
      "changes nothing and says what would change. Named ids are all or nothing.",
    body: actionBodyDoc(action),
    rules: actionBodyRules,
    responses: { 200: actionViewSchema },
    errors:
      action === "retry"
        ? { 400: [ErrorCode.invalid_body], 409: [ErrorCode.dedup_window_expired] }
        : { 400: [ErrorCode.invalid_body] },
  };
}

/**
 * Dead letters, for operators (admin role: no route here sets config.role):
 * GET /v1/dead-letters lists failed events by code, customer, event_name and age;
 * POST /v1/dead-letters/retry | discard | resolve change named ids or a filter's matches,
 * one guarded statement per batch, and answer {matched, changed, ids, …}; dry_run changes nothing.
 */
export const deadLettersRoutes: FastifyPluginAsync<{ db: Db; config: Config }> = async (
  app,
  { db, config },
) => {
  const { dedupWindowMs } = config.worker;

  app.get("/dead-letters", { config: { doc: listDoc } }, async (request) => {
    const query = parseListQuery(request.query);
    const page = await listDeadLetters(db, { ...query, dedupWindowMs });
    const last = page.rows.at(-1);
    return {
      data: page.rows.map(deadLetterView),
      matched: page.matched,
      next_cursor: page.more && last ? encodeCursor({ at: last.position_at, id: last.id }) : null,
    };
  });

  for (const action of actions) {
    app.post(`/dead-letters/${action}`, { config: { doc: actionDoc(action) } }, async (request) => {
      const input = parseActionBody(action, request.body);
      const named = "ids" in input.target ? input.target.ids : null;
      const outcome = await run(db, action, input, actor(request), config.worker);
      if (named !== null && outcome.refused > 0) {
        // Named ids are all or nothing (the statement changed none): say which and why.
        throw new ApiError(
          409,
          ErrorCode.dedup_window_expired,
          `nothing was retried: ${refusalMessage(outcome.refused, dedupWindowMs)}`,
          { ids: outcome.refusedIds },
        );
      }
      return actionView(action, input.dryRun, outcome, named, dedupWindowMs);
    });
  }
};

function run(
  db: Db,
  action: DlqActionName,
  input: ActionInput,
  who: string,
  { dedupWindowMs, timestampMarginMs }: Config["worker"],
): Promise<DlqOutcome | RetryOutcome> {
  const common: DlqRun = {
    target: input.target,
    dryRun: input.dryRun,
    // Named ids go in one statement whatever the limit: the operator named exactly these.
    limit: "ids" in input.target ? input.target.ids.length : input.limit,
    actor: who,
    note: input.note,
  };
  switch (action) {
    case "retry":
      return retryDeadLetters(db, {
        ...common,
        dedupWindowMs,
        notInStripe: input.notInStripe,
        timestampMarginMs,
      });
    case "discard":
      return discardDeadLetters(db, common);
    case "resolve":
      return resolveDeadLetters(db, common);
  }
}

/** Who acts, for the audit rows: the API key's name (a person's or a script's). */
function actor(request: FastifyRequest): string {
  const key = request.apiKey;
  return key ? `key "${key.name}" (id ${key.id})` : "an unknown key";
}
