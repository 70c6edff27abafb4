import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { type ApiKey, type ApiKeyRole, apiKeyRoles, apiKeys } from "../db/schema/api-keys.ts";
import { ApiError } from "../lib/errors.ts";

/** A key as listings show it: everything but the hash. */
export type ApiKeySummary = Omit<ApiKey, "secretHash">;

/** A newly created key, with the one and only copy of its secret. */
export interface CreatedApiKey {
  id: number;
  name: string;
  role: ApiKeyRole;
  /** First characters of the secret, as listings show them. */
  prefix: string;
  /** `ml_…`: shown once, never stored. */
  secret: string;
}

/** How many leading characters of a secret listings show: "ml_" and 7 random characters. */
const PREFIX_LENGTH = 10;

// What listings and revocations return: never the hash, even though it is not the secret.
const summaryColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  role: apiKeys.role,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

/** Hex SHA-256 of a secret. Secrets carry 256 random bits, so no salt or slow hash is needed. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Creates a key of the given role and returns its secret, which is not stored anywhere. */
export async function createApiKey(
  db: Db,
  input: { name: string; role: ApiKeyRole },
): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) {
    throw new ApiError(400, "invalid_body", "name must be a string of 1 to 100 characters", {
      field: "name",
    });
  }
  if (!apiKeyRoles.includes(input.role)) {
    throw new ApiError(400, "invalid_body", `role must be one of ${apiKeyRoles.join(", ")}`, {
      field: "role",
    });
  }
  const secret = `ml_${randomBytes(32).toString("base64url")}`;
  const prefix = secret.slice(0, PREFIX_LENGTH);
  const [row] = await db
    .insert(apiKeys)
    .values({ name, role: input.role, secretHash: hashSecret(secret), prefix })
    .returning({ id: apiKeys.id });
  if (row === undefined) throw new Error("insert into api_keys returned no row");
  return { id: row.id, name, role: input.role, prefix, secret };
}

/** The live key a secret belongs to, or null when unknown or revoked. */
export async function verifyApiKey(db: Db, secret: string): Promise<ApiKey | null> {
  // Real secrets are 46 characters; hashing an oversized header buys an attacker nothing.
  if (secret.length === 0 || secret.length > 200) return null;
  // Looking up by hash leaks nothing through timing: the hash of a guess says nothing of a key.
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, hashSecret(secret)), isNull(apiKeys.revokedAt)))
    .limit(1);
  return key ?? null;
}

/** Revokes a key at once (idempotent: the first revocation time stays); null when no such key. */
export async function revokeApiKey(db: Db, id: number): Promise<ApiKeySummary | null> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning(summaryColumns);
  return row ?? null;
}

/** Every key, revoked ones included, oldest first, without hashes. */
export async function listApiKeys(db: Db): Promise<ApiKeySummary[]> {
  return db.select(summaryColumns).from(apiKeys).orderBy(asc(apiKeys.id));
}
