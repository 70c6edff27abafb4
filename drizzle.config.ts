import { defineConfig } from "drizzle-kit";

// Migrations are generated from the schema and applied identically to PGlite and Postgres.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema/index.ts",
  out: "./drizzle",
});
