import { pgTable, serial, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const apiKeyRoles = ["ingest", "admin"] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

/** API keys. Only a SHA-256 hash of the secret is stored; the secret is shown once. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull(),
    role: text("role", { enum: apiKeyRoles }).notNull(),
    /** Hex SHA-256 of the secret. Secrets are 256-bit random, so a plain hash suffices. */
    secretHash: text("secret_hash").notNull(),
    /** First characters of the secret, to tell keys apart in listings. */
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    /** From this moment the key is refused like a revoked one; null: it never expires. */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
  },
  // Every request looks its key up by hash.
  (t) => [uniqueIndex("api_keys_secret_hash_key").on(t.secretHash)],
);

export type ApiKey = typeof apiKeys.$inferSelect;
