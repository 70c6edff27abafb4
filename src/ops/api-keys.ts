import { createHash, randomBytes } from "node:crypto";
import { and, asc, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { type ApiKey, type ApiKeyRole, apiKeyRoles, apiKeys } from "../db/schema/api-keys.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { publishRevocation, REVOCATIONS_CHANNEL } from "./api-key-revocations.ts";

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
  createdAt: Date;
  /** When it stops working; null: never. */
  expiresAt: Date | null;
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
  expiresAt: apiKeys.expiresAt,
};

/** Hex SHA-256 of a secret. Secrets carry 256 random bits, so no salt or slow hash is needed. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Creates a key of the given role and returns its secret, which is not stored anywhere. */
export async function createApiKey(
  db: Db,
  input: { name: string; role: ApiKeyRole; expiresAt?: Date | null },
  now: Date = new Date(),
): Promise<CreatedApiKey> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) {
    throw new ApiError(
      400,
      ErrorCode.invalid_body,
      "name must be a string of 1 to 100 characters",
      {
        field: "name",
      },
    );
  }
  if (!apiKeyRoles.includes(input.role)) {
    throw new ApiError(
      400,
      ErrorCode.invalid_body,
      `role must be one of ${apiKeyRoles.join(", ")}`,
      {
        field: "role",
      },
    );
  }
  const expiresAt = input.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) {
    throw new ApiError(400, ErrorCode.invalid_body, "expires_at must be in the future", {
      field: "expires_at",
    });
  }
  const secret = `ml_${randomBytes(32).toString("base64url")}`;
  const prefix = secret.slice(0, PREFIX_LENGTH);
  const [row] = await db
    .insert(apiKeys)
    .values({ name, role: input.role, secretHash: hashSecret(secret), prefix, expiresAt })
    .returning({ id: apiKeys.id, createdAt: apiKeys.createdAt });
  if (row === undefined) throw new Error("insert into api_keys returned no row");
  return {
    id: row.id,
    name,
    role: input.role,
    prefix,
    secret,
    createdAt: row.createdAt,
    expiresAt,
  };
}

/** The live key a secret belongs to, or null when unknown, revoked or expired. */
export async function verifyApiKey(db: Db, secret: string): Promise<ApiKey | null> {
  // Real secrets are 46 characters; hashing an oversized header buys an attacker nothing.
  if (secret.length === 0 || secret.length > 200) return null;
  return findLiveKey(db, hashSecret(secret));
}

/**
 * The live key with this secret hash, or null. Looking up by hash leaks nothing through timing:
 * the hash of a guess says nothing of a key.
 */
export async function findLiveKey(db: Db, secretHash: string): Promise<ApiKey | null> {
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.secretHash, secretHash),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
      ),
    )
    .limit(1);
  return key ?? null;
}

/**
 * Revokes a key (idempotent: the first revocation time stays); null when no such key. API
 * processes cache keys (http/api-key-cache.ts): this process's caches on `db` forget it before
 * this returns, and the same statement notifies every process listening on Postgres, at commit.
 */
export async function revokeApiKey(db: Db, id: number): Promise<ApiKeySummary | null> {
  const [row] = await rows<RevokedRow>(
    db,
    sql`with revoked as (
          update api_keys set revoked_at = coalesce(revoked_at, now())
          where id = ${id}
          returning id, name, role, prefix, created_at, revoked_at, expires_at
        )
        select revoked.*, pg_notify(${REVOCATIONS_CHANNEL}, revoked.id::text) from revoked`,
  );
  if (row === undefined) return null;
  publishRevocation(db, row.id);
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: new Date(row.created_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

/** A revoked key's row as the revoking statement returns it (raw: snake case, driver types). */
interface RevokedRow extends Record<string, unknown> {
  id: number;
  name: string;
  role: ApiKeyRole;
  prefix: string;
  created_at: string | Date;
  revoked_at: string | Date | null;
  expires_at: string | Date | null;
}

/** Every key, revoked ones included, oldest first, without hashes. */
export async function listApiKeys(db: Db): Promise<ApiKeySummary[]> {
  return db.select(summaryColumns).from(apiKeys).orderBy(asc(apiKeys.id));
}

/** Whether a key works at `now`: not revoked, not expired. */
export function keyStatus(
  key: Pick<ApiKey, "revokedAt" | "expiresAt">,
  now: Date,
): "active" | "revoked" | "expired" {
  if (key.revokedAt !== null) return "revoked";
  if (key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime()) return "expired";
  return "active";
}

/** A key as the API and `keys list --json` show it: snake case, its status at `now`. */
export function apiKeyView(key: ApiKeySummary, now: Date) {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    prefix: key.prefix,
    status: keyStatus(key, now),
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

/** A key just created, as POST /v1/api-keys and `keys create --json` show it: with its secret. */
export function createdKeyView(key: CreatedApiKey, now: Date) {
  return { ...apiKeyView({ ...key, revokedAt: null }, now), secret: key.secret };
}
