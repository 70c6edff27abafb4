import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Says plainly which suites `npm test` skips when there is no Postgres server to run them on. */
export default function setup(): void {
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
