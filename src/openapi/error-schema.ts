import { z } from "zod";
import { ItemErrorCode } from "../lib/error-codes.ts";

/** One entry of `error.errors`: one bad field of one item. */
const itemErrorSchema = z.object({
  index: z.number().int().min(0).describe("The item's position in the request (0 for a body)"),
  field: z.string().describe("The field, as the request names it: events[3].customer"),
  code: z.enum(Object.values(ItemErrorCode)),
  message: z.string().describe("The field and the rule it breaks"),
});

/**
 * The body of every error answer (http/error-handler.ts errorBody). The document narrows `code`
 * to the codes one status of one route can carry.
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe("Stable: clients branch on it; see the codes each status lists"),
    message: z.string().describe("For people: names the field and the rule"),
    field: z.string().optional().describe("The first (or only) field at fault"),
    errors: z.array(itemErrorSchema).optional().describe("Each bad field, the first 100"),
    truncated: z.literal(true).optional().describe("`errors` lists only the first ones"),
    total_errors: z.number().int().optional().describe("How many there were, when truncated"),
    ids: z.array(z.string()).optional().describe("The ids at fault"),
  }),
});
