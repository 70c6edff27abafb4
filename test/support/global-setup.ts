import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { pgliteTemplate } from "./pglite-template.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** The migrated PGlite dump each suite's PGlite database starts from (pglite-template.ts). */
    pgliteTemplate: string;
  }
}

/**
 * Makes (or finds) the PGlite template every suite starts from, and says plainly which suites
 * `npm test` skips when there is no Postgres server to run them on.
 */
export default async function setup(project: TestProject): Promise<void> {
  project.provide("pgliteTemplate", await pgliteTemplate());
  // Every project runs this (vitest.config.ts); the message is the run's, said once.
  if (project.name !== "suites") return;
  if (process.env.DATABASE_URL) {
    process.stdout.write("DATABASE_URL is set: database suites run on PGlite and on Postgres.\n");
    return;
  }
  const names = testFiles("test").flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/describeOnPostgres\(\s*"([^"]+)"/g)].map(
      (m) => `  - ${file}: ${m[1]}`,
    ),
  );
  process.stdout.write(
    `DATABASE_URL is not set: every suite runs on PGlite, except these, which need a Postgres server and are skipped:\n${names.join("\n")}\n`,
  );
}

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return testFiles(path);
    return path.endsWith(".test.ts") ? [path] : [];
  });
}
