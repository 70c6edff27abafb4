import { pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Where each `meterline attach` is in its source table: the (follow column, id) of the last row
 * taken. Written in the same transaction as the events that row produced, so a crash repeats
 * nothing and loses nothing.
 */
export const attachCheckpoints = pgTable("attach_checkpoints", {
  /** The attach's --name: part of every event id it makes. */
  name: text("name").primaryKey(),
  /** The last row taken, as the source's text of its follow column and its id column; null: none yet. */
  lastFollow: text("last_follow"),
  lastId: text("last_id"),
  /** host-pid of the process that wrote it last. */
  owner: text("owner").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Source rows an attach could not take, with the reason; later rows went on without them. */
export const attachRefusals = pgTable(
  "attach_refusals",
  {
    name: text("name").notNull(),
    /** The source row's id column, as text. */
    rowId: text("row_id").notNull(),
    /** An item error code (unknown_customer, invalid_value, …) or conflicting_event. */
    code: text("code").notNull(),
    message: text("message").notNull(),
    refusedAt: timestamp("refused_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.name, t.rowId] })],
);

export type AttachRefusal = typeof attachRefusals.$inferSelect;
