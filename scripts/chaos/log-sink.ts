import { createWriteStream, type WriteStream } from "node:fs";

/** The one file the run's child processes (workers, the API) write their output to. */
export class LogSink {
  private readonly stream: WriteStream | null;
  private ended: Promise<void> | null = null;

  constructor(file: string | null) {
    this.stream = file ? createWriteStream(file, { flags: "a" }) : null;
  }

  /** One line, with the time. */
  write(line: string): void {
    if (!this.ended) this.stream?.write(`${new Date().toISOString()} ${line}\n`);
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    this.ended ??= new Promise<void>((resolve) =>
      this.stream ? this.stream.end(resolve) : resolve(),
    );
    return this.ended;
  }
}
