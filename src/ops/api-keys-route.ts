import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { apiKeyRoles } from "../db/schema/api-keys.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { parseBody } from "../validation/parse-body.ts";
import { apiKeyView, createApiKey, createdKeyView, listApiKeys, revokeApiKey } from "./api-keys.ts";

/** The longest life a key may be given: ten years. */
export const MAX_EXPIRY_DAYS = 3650;

const createSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    role: z.enum(apiKeyRoles),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    expires_in_days: z.number().int().min(1).max(MAX_EXPIRY_DAYS).optional(),
  })
  .refine((b) => b.expires_at === undefined || b.expires_in_days === undefined, {
    path: ["expires_in_days"],
    message: "give expires_at or expires_in_days, not both",
  });

const createRules = {
  name: "must be a string of 1 to 100 characters",
  role: `must be one of ${apiKeyRoles.join(", ")}`,
  expires_at: "must be an ISO 8601 date-time with an offset (2027-01-31T00:00:00Z), in the future",
  expires_in_days: `must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}`,
};

const keySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  role: z.enum(apiKeyRoles),
  prefix: z.string().describe("The secret's first characters, to recognise it"),
  status: z.enum(["active", "revoked", "expired"]),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
type KeyView = z.infer<typeof keySchema>;
const createdSchema = keySchema.extend({
  secret: z.string().describe("The key itself: shown this once, never stored"),
});
const idParams = z.object({ id: z.string().describe("The key's id (a whole number ≥ 1)") });

const docs = {
  create: {
    tag: "API keys",
    summary: "Create an API key; the answer holds its secret, the only time it is shown.",
    body: createSchema,
    rules: createRules,
    responses: { 201: createdSchema },
    errors: { 400: [ErrorCode.invalid_body] },
  },
  list: {
    tag: "API keys",
    summary: "Every API key with its status (active, revoked, expired); never a secret.",
    responses: { 200: z.object({ data: z.array(keySchema) }) },
  },
  revoke: {
    tag: "API keys",
    summary: "Revoke a key: every API process refuses it at once (idempotent).",
    params: idParams,
    responses: { 200: keySchema },
    errors: { 400: [ErrorCode.invalid_param], 404: [ErrorCode.api_key_not_found] },
  },
} satisfies Record<string, RouteDoc>;

/**
 * API keys (admin): POST /v1/api-keys creates one and answers its secret, the only time it is
 * shown; GET lists every key with its status; DELETE /v1/api-keys/:id revokes one (idempotent),
 * refused at once by every API process (http/api-key-cache.ts). An expired key is refused like
 * a revoked one.
 */
export const apiKeysRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.post("/api-keys", { config: { doc: docs.create } }, async (request, reply) => {
    const body = parseBody(createSchema, request.body, createRules);
    const now = new Date();
    const expiresAt =
      body.expires_in_days !== undefined
        ? new Date(now.getTime() + body.expires_in_days * 86_400_000)
        : body.expires_at !== undefined
          ? new Date(body.expires_at)
          : null;
    const key = await createApiKey(db, { name: body.name, role: body.role, expiresAt }, now);
    return reply.status(201).send(createdKeyView(key, now));
  });

  app.get("/api-keys", { config: { doc: docs.list } }, async (): Promise<{ data: KeyView[] }> => {
    const now = new Date();
    return { data: (await listApiKeys(db)).map((k) => apiKeyView(k, now)) };
  });

  app.delete<{ Params: { id: string } }>(
    "/api-keys/:id",
    { config: { doc: docs.revoke } },
    async (request): Promise<KeyView> => {
      const id = idParam(request.params.id);
      const revoked = await revokeApiKey(db, id);
      if (revoked === null) {
        throw new ApiError(404, ErrorCode.api_key_not_found, `no API key has id ${id}`);
      }
      return apiKeyView(revoked, new Date());
    },
  );
};

function idParam(raw: string): number {
  const id = /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(id) || id < 1 || id > 2_147_483_647) {
    throw new ApiError(400, ErrorCode.invalid_param, "id must be a key id (a whole number ≥ 1)", {
      field: "id",
    });
  }
  return id;
}
