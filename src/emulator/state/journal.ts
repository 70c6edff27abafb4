import { type FileHandle, open, readdir, readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { applyChange, type StateChange } from "./changes.ts";
import type { Store } from "./store.ts";

/**
 * The journal: every change to the durable state, one JSON line each (state/changes.ts),
 * appended beside the snapshot in `<state file>.journal-<generation>`. A generation is started
 * at each start and at each compaction; the snapshot names the first generation it does not
 * include, so the state is always the snapshot plus the journals from that one on, whatever
 * moment a crash picked.
 */

/** How long appended lines wait to be written together: a few writes a second, not one a request. */
export const JOURNAL_FLUSH_DELAY_MS = 25;

/** The journal file of one generation. */
export function journalPath(stateFile: string, generation: number): string {
  return `${stateFile}.journal-${generation}`;
}

/** Generations of the journal files beside `stateFile`, in ascending order. */
export async function listJournals(stateFile: string): Promise<number[]> {
  const prefix = `${basename(stateFile)}.journal-`;
  const names = await readdir(dirname(stateFile));
  return names
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

/**
 * Apply one journal file to the store; resolves with its size in bytes. Its last line may have
 * been cut short by a crash while it was written: that line was never whole, so it is skipped.
 * Any other line that does not parse is an error naming the file and line.
 */
export async function replayJournal(store: Store, file: string): Promise<number> {
  const raw = await readFile(file);
  const lines = raw.toString("utf8").split("\n");
  // After a complete write the text ends with a newline, and the last element is "".
  const last = lines.length - 1;
  for (let i = 0; i <= last; i++) {
    const line = lines[i] ?? "";
    if (line === "") continue;
    let change: StateChange;
    try {
      change = JSON.parse(line) as StateChange;
    } catch (error) {
      if (i === last) break;
      throw new Error(`${file} line ${i + 1} is not a journal entry: ${String(error)}`);
    }
    applyChange(store, change);
  }
  return raw.length;
}

/**
 * One generation's file, appended to. Changes are serialized when they happen (later in-place
 * edits of the same object are journaled by their own change) and written a few at a time,
 * one write in flight, on libuv's threads: the event loop never waits for the disk.
 */
export class JournalFile {
  /** Characters appended so far (about its size in bytes: the compaction threshold reads it). */
  bytes = 0;
  private lines: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  // Opened at the first write: a start that changes nothing leaves no file behind.
  private handle: Promise<FileHandle> | null = null;

  constructor(
    readonly path: string,
    readonly generation: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Queue one change; it reaches the file within JOURNAL_FLUSH_DELAY_MS. */
  append(change: StateChange): void {
    const line = JSON.stringify(change);
    this.lines.push(line);
    this.bytes += line.length + 1;
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.flush().catch(this.onError);
      }, JOURNAL_FLUSH_DELAY_MS);
      // A process that ends without close() is a crash: no timer keeps it alive.
      this.timer.unref();
    }
  }

  /** Write what is queued; resolves once written (not synced: as durable as the old save). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.lines.length === 0) return this.writing;
    const text = `${this.lines.join("\n")}\n`;
    this.lines = [];
    // One write at a time keeps the lines in order; a failed write does not stop the next.
    this.writing = this.writing
      .catch(() => {})
      .then(async () => {
        this.handle ??= open(this.path, "a");
        await (await this.handle).write(text);
      });
    return this.writing;
  }

  /** Write what is queued and close the file. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await (await this.handle?.catch(() => null))?.close();
    }
  }
}
