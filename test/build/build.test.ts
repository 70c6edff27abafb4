import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// bin/meterline.js runs compiled JavaScript from dist/, and compiles first when dist/ is missing
// or older than src/. Checked on a two-file project laid out like this one (the real bin, build
// script and tsconfigs), so the repository's own dist/ is not rebuilt under other tests' feet.
const repo = join(import.meta.dirname, "../..");
const made: string[] = [];

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the build machinery around a tiny src/cli/main.ts that prints a word. */
function project(options: { compiler: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), "meterline-build-"));
  made.push(dir);
  for (const file of [
    "bin/meterline.js",
    "scripts/build.js",
    "tsconfig.json",
    "tsconfig.build.json",
    "package.json",
  ]) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), readFileSync(join(repo, file)));
  }
  mkdirSync(join(dir, "src/cli"), { recursive: true });
  writeFileSync(
    join(dir, "src/cli/main.ts"),
    'import { word } from "./word.ts";\n\nconsole.log(word);\n',
  );
  setWord(dir, "one");
  if (options.compiler) symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function setWord(dir: string, word: string): void {
  writeFileSync(join(dir, "src/cli/word.ts"), `export const word: string = "${word}";\n`);
}

function run(dir: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(dir, "bin/meterline.js")], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runAsync(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, "bin/meterline.js")]);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`)),
    );
  });
}

describe("bin/meterline.js and scripts/build.js", () => {
  it("compiles src/ into dist/ when there is no build, then runs the JavaScript", () => {
    const dir = project({ compiler: true });
    expect(run(dir)).toMatchObject({ status: 0, stdout: "one\n" });
    expect(existsSync(join(dir, "dist/cli/main.js"))).toBe(true);
    expect(readFileSync(join(dir, "dist/cli/main.js"), "utf8")).toContain('from "./word.js"');
    expect(existsSync(join(dir, "dist/.build-stamp"))).toBe(true);
  });

  it("does not compile again while nothing changed, and does once a source is edited", () => {
    const dir = project({ compiler: true });
    run(dir);
    const built = statSync(join(dir, "dist/.build-stamp")).mtimeMs;
    expect(run(dir).stdout).toBe("one\n");
    expect(statSync(join(dir, "dist/.build-stamp")).mtimeMs).toBe(built);
    setWord(dir, "two");
    expect(run(dir)).toMatchObject({ status: 0, stdout: "two\n" });
  });

  it("processes started together all run the edited code, and leave no lock or half build", async () => {
    const dir = project({ compiler: true });
    run(dir);
    setWord(dir, "three");
    const outputs = await Promise.all([runAsync(dir), runAsync(dir), runAsync(dir)]);
    expect(outputs).toEqual(["three\n", "three\n", "three\n"]);
    expect(readdirSync(dir).filter((name) => name.startsWith("dist"))).toEqual(["dist"]);
  });

  it("without a build and without TypeScript installed, says how to build", () => {
    const dir = project({ compiler: false });
    const r = run(dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("dist/ is missing");
    expect(r.stderr).toContain("npm run build");
  });

  it("without TypeScript installed (dev dependencies omitted), runs dist/ as it was built", () => {
    const dir = project({ compiler: true });
    run(dir);
    rmSync(join(dir, "node_modules"));
    setWord(dir, "edited");
    expect(run(dir)).toMatchObject({ status: 0, stdout: "one\n" });
  });

  it("a failed compile is a clear error, and the previous build stays", () => {
    const dir = project({ compiler: true });
    run(dir);
    writeFileSync(join(dir, "src/cli/word.ts"), "export const word = ;\n");
    const r = run(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("meterline: the build failed");
    expect(existsSync(join(dir, "dist/cli/main.js"))).toBe(true);
  });
});

describe("the repository's compiled build", () => {
  it("finds the migrations from dist/ (what `migrate` reads at run time)", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "meterline-build-migrate-"));
    made.push(dataDir);
    const r = spawnSync(process.execPath, [join(repo, "bin/meterline.js"), "migrate"], {
      encoding: "utf8",
      env: { ...process.env, METERLINE_DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "warn" },
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^migrations applied: \d+ \(pglite\)\n$/);
    expect(readFileSync(join(repo, "dist/db/migrate.js"), "utf8")).toContain("../../drizzle");
    const again = spawnSync(process.execPath, [join(repo, "bin/meterline.js"), "migrate"], {
      encoding: "utf8",
      env: { ...process.env, METERLINE_DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "warn" },
    });
    expect(again.stdout).toBe("nothing to migrate: the database is up to date (pglite)\n");
  });

  it("ships the dashboard's page: dist/ holds the same files as src/dashboard/static", () => {
    const src = join(repo, "src/dashboard/static");
    const names = readdirSync(src).sort();
    expect(names).toEqual(["app.css", "app.js", "icon.svg", "index.html"]);
    for (const name of names) {
      expect(readFileSync(join(repo, "dist/dashboard/static", name)), name).toEqual(
        readFileSync(join(src, name)),
      );
    }
  });

  it("--version prints the package's version (read from package.json at run time)", () => {
    const version = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
    for (const flag of ["--version", "-v", "version"]) {
      const r = spawnSync(process.execPath, [join(repo, "bin/meterline.js"), flag], {
        encoding: "utf8",
      });
      expect(r.status, flag).toBe(0);
      expect(r.stdout, flag).toBe(`meterline ${version}\n`);
    }
  });

  it("ships a LICENSE that matches package.json's license", () => {
    const license = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).license;
    expect(license).toBe("MIT");
    expect(readFileSync(join(repo, "LICENSE"), "utf8")).toMatch(/^MIT License\n/);
  });
});
