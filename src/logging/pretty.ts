/** pino's numeric levels, as a person reads them. */
const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/**
 * Fields a terminal line leaves out or shows in its own place: a terminal runs one process, so
 * its worker id, pid and host are the same on every line.
 */
const PLACED = new Set(["level", "time", "msg", "part", "err", "worker", "pid", "hostname"]);

/**
 * One pino JSON line as one line a person reads on a terminal:
 * `21:40:01.123 INFO  [reporter] reporter started batchSize=100`, then an error's stack, indented.
 * A line that is not pino's JSON is passed through. Pure.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time =
    typeof entry.time === "number" ? new Date(entry.time).toISOString().slice(11, 23) : "";
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const part = typeof entry.part === "string" ? ` [${entry.part}]` : "";
  const fields = Object.entries(entry)
    .filter(([key]) => !PLACED.has(key))
    .map(([key, value]) => `${key}=${shown(value)}`);
  const head = [`${time} ${level}${part}`, String(entry.msg ?? ""), ...fields]
    .filter((s) => s !== "")
    .join(" ");
  return `${head}${errorLines(entry.err)}\n`;
}

/** A field's value: bare when it reads unambiguously, else as JSON. */
function shown(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** pino's serialized error, as its stack (or message) under the line, indented. */
function errorLines(err: unknown): string {
  if (err === null || typeof err !== "object") return err === undefined ? "" : ` err=${shown(err)}`;
  const { stack, message } = err as { stack?: unknown; message?: unknown };
  const text = typeof stack === "string" ? stack : String(message ?? JSON.stringify(err));
  return `\n${text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}`;
}
