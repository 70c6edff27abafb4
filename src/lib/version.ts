import { readFileSync } from "node:fs";

/** The package's version (package.json sits two folders up from src/<dir> and from dist/<dir>). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return String((pkg as { version?: unknown }).version);
}
