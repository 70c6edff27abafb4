import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What a development `start` tells the other commands (demo) about itself. */
export interface RuntimeInfo {
  api_url: string;
  api_key: string;
  emulator_url: string;
  stripe_key: string;
}

const FILE = "runtime.json";

/** Saves the development runtime info, readable by its owner only (it holds a key). */
export async function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, FILE), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** Reads what a running development `start` saved, or null when none has run here. */
export async function readRuntimeInfo(dataDir: string): Promise<RuntimeInfo | null> {
  try {
    return JSON.parse(await readFile(join(dataDir, FILE), "utf8")) as RuntimeInfo;
  } catch {
    return null;
  }
}
