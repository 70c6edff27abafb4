import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { StateChange } from "./changes.ts";
import { JournalFile, journalPath, listJournals, replayJournal } from "./journal.ts";
import { captureSnapshot, loadSnapshot, SnapshotAborted, writeSnapshot } from "./snapshot.ts";
import type { Store } from "./store.ts";

/**
 * Journals below this many bytes are never compacted: replaying a few MiB at start is cheaper
 * than rewriting the snapshot often.
 */
export const MIN_COMPACTION_BYTES = 8 * 1024 * 1024;

/** Journal files found at start beyond which a compaction follows (many short runs add up). */
const MAX_JOURNAL_FILES = 16;

/**
 * The emulator's state file, kept up to date by what changed: every change is appended to the
 * journal (journal.ts) as it happens, and the snapshot (snapshot.ts) is rewritten only when the
 * journals outgrow it (and MIN_COMPACTION_BYTES), written slice by slice while the emulator
 * serves. So writing costs about as much per change as the change itself, whatever the size of
 * the ledger, and the disk holds at most about twice the snapshot.
 */
export class StateFile {
  // Bytes of the closed journal files the snapshot does not include yet.
  private closedBytes: number;
  private compactAt: number;
  private compacting: Promise<void> | null = null;
  private closing = false;

  private constructor(
    private readonly store: Store,
    private readonly path: string,
    private file: JournalFile,
    replayedBytes: number,
    snapshotBytes: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.closedBytes = replayedBytes;
    this.compactAt = Math.max(MIN_COMPACTION_BYTES, snapshotBytes);
  }

  /**
   * Load the snapshot at `path` and the journals after it into an empty store, then journal
   * the store's changes from here on, in a new generation (a crash may have cut the last line
   * of the previous one short: nothing is appended after it).
   */
  static async open(
    store: Store,
    path: string,
    onError: (error: unknown) => void,
  ): Promise<StateFile> {
    await mkdir(dirname(path), { recursive: true });
    const snapshot = await loadSnapshot(store, path);
    let replayed = 0;
    let files = 0;
    let next = snapshot.nextJournal;
    for (const generation of await listJournals(path)) {
      const file = journalPath(path, generation);
      // Left by a compaction that ended before deleting it: its changes are in the snapshot.
      if (generation < snapshot.nextJournal) await rm(file, { force: true });
      else {
        replayed += await replayJournal(store, file);
        files += 1;
        next = generation + 1;
      }
    }
    const journal = new JournalFile(journalPath(path, next), next, onError);
    const stateFile = new StateFile(store, path, journal, replayed, snapshot.bytes, onError);
    store.changed = (change) => stateFile.append(change);
    if (files > MAX_JOURNAL_FILES) stateFile.compact().catch(onError);
    return stateFile;
  }

  private append(change: StateChange): void {
    this.file.append(change);
    if (this.compacting === null && !this.closing && this.pendingBytes() >= this.compactAt) {
      this.compact().catch(this.onError);
    }
  }

  /** Journal bytes the snapshot does not include. */
  private pendingBytes(): number {
    return this.closedBytes + this.file.bytes;
  }

  /**
   * Rewrite the snapshot with everything changed so far, and delete the journals it now
   * includes. The journal moves to a new generation at the instant the snapshot's view is
   * captured; changes after it go there. One compaction at a time: a call during one waits for
   * it, then runs its own.
   */
  async compact(): Promise<void> {
    while (this.compacting !== null) await this.compacting.catch(() => {});
    if (this.closing) return;
    const old = this.file;
    const next = old.generation + 1;
    const view = captureSnapshot(this.store, next);
    this.file = new JournalFile(journalPath(this.path, next), next, this.onError);
    this.closedBytes += old.bytes;
    const run = async () => {
      await old.close();
      const written = await writeSnapshot(this.store, view, this.path, () => this.closing);
      this.closedBytes = 0;
      this.compactAt = Math.max(MIN_COMPACTION_BYTES, written);
      for (const generation of await listJournals(this.path)) {
        if (generation < next) await rm(journalPath(this.path, generation), { force: true });
      }
    };
    this.compacting = run();
    try {
      await this.compacting;
    } catch (error) {
      // Not before this much more: a disk that refuses the snapshot is not asked at every change.
      this.compactAt = this.pendingBytes() + Math.max(MIN_COMPACTION_BYTES, this.compactAt);
      if (!(error instanceof SnapshotAborted)) throw error;
    } finally {
      this.compacting = null;
    }
  }

  /**
   * Write the journal's last lines and stop. A compaction under way is abandoned (the files on
   * disk hold the whole state without it), so closing never waits for a snapshot.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.store.changed = () => {};
    await this.compacting?.catch(() => {});
    await this.file.close();
  }
}
