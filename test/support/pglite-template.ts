import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { openDatabase } from "../../src/db/connect.ts";
import { migrate, migrationsFolder } from "../../src/db/migrate.ts";

const root = join(import.meta.dirname, "../..");

/**
 * The file of a migrated, empty PGlite database (`dumpDataDir`), made once per set of migrations
 * and PGlite version and kept in node_modules/.cache. Each suite's PGlite starts from it in about
 * a second; creating one (initdb in WebAssembly) takes three or four, and 60-odd suites do.
 */
export async function pgliteTemplate(): Promise<string> {
  const dir = join(root, "node_modules/.cache/meterline-test");
  const path = join(dir, `pglite-${templateKey()}.tar.gz`);
  if (existsSync(path)) return path;
  // Migrated through the product's own path, in a folder; then dumped by PGlite itself.
  const work = mkdtempSync(join(tmpdir(), "meterline-template-"));
  try {
    const database = await openDatabase({ dataDir: work });
    await migrate(database).finally(() => database.close());
    const client = new PGlite(work);
    // dumpDataDir before the instance is ready never settles.
    await client.waitReady;
    const dump = await client.dumpDataDir("gzip").finally(() => client.close());
    mkdirSync(dir, { recursive: true });
    // Written whole, then renamed: a run stopped halfway leaves no broken template behind.
    writeFileSync(`${path}.${process.pid}`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${path}.${process.pid}`, path);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return path;
}

/** What decides the template's content: every migration file, and the PGlite version. */
function templateKey(): string {
  const hash = createHash("sha256");
  for (const name of readdirSync(migrationsFolder, { recursive: true }).map(String).sort()) {
    const file = join(migrationsFolder, name);
    if (name.endsWith(".sql") || name.endsWith(".json"))
      hash.update(name).update(readFileSync(file));
  }
  // The package does not export its package.json: read from where npm put it.
  hash.update(readFileSync(join(root, "node_modules/@electric-sql/pglite/package.json")));
  return hash.digest("hex").slice(0, 16);
}
