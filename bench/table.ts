/**
 * Pure formatting and statistics for the benchmark tables: no I/O, so a unit test can pin them
 * (test/bench/table.test.ts) and every table prints the same way.
 */

/** One table: a title, column headings, rows of cells, and notes printed under it. */
export interface Table {
  /** Printed above the table. */
  title: string;
  /** Column headings, in order. */
  columns: string[];
  /** Cells, already formatted; a row shorter than `columns` is padded with blanks. */
  rows: string[][];
  /** Lines printed under the table (method, caveats). */
  notes?: string[];
}

/**
 * The q-th percentile (0–100) of `values` by the nearest-rank method: the smallest value with at
 * least q% of the values at or below it. Nearest rank returns a value that was actually
 * observed, which is what a latency percentile should be. NaN for an empty list.
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  if (q < 0 || q > 100) throw new RangeError(`percentile must be from 0 to 100, got ${q}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

/** p50, p90, p99 and max of a list of latencies (NaN each when empty). */
export function summarize(values: readonly number[]): {
  p50: number;
  p90: number;
  p99: number;
  max: number;
} {
  return {
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  };
}

/** Events per second; NaN when no time passed (a rate from nothing is not a rate). */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : Number.NaN;
}

/**
 * A number for a table: thousands separated by commas, `digits` decimals; "–" for NaN or
 * infinity, so a missing figure never prints as a misleading 0.
 */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "–";
  const fixed = Math.abs(value).toFixed(digits);
  const [whole = "0", frac] = fixed.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const sign = value < 0 && Number(fixed) !== 0 ? "-" : "";
  return frac === undefined ? `${sign}${grouped}` : `${sign}${grouped}.${frac}`;
}

/** Milliseconds for a table: one decimal under 10 ms, none above. */
export function ms(value: number): string {
  return num(value, Math.abs(value) < 10 ? 1 : 0);
}

/** Seconds for a table, from milliseconds, with one decimal. */
export function seconds(valueMs: number): string {
  return num(valueMs / 1000, 1);
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return num(bytes / (1024 * 1024), 1);
}

/** A ratio such as 41.3×; "–" when it cannot be computed. */
export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${num(a / b, 1)}×` : "–";
}

/** True when a cell should be right-aligned: it starts like a number or is a dash. */
function numeric(cell: string): boolean {
  return /^[-+]?[\d.,]+(×|%| ?[a-zA-Z/]{0,4})?$/.test(cell) || cell === "–";
}

/**
 * Renders a table as GitHub-flavoured Markdown with padded columns, so it reads in a terminal
 * and pastes into an issue unchanged. Numeric columns are right-aligned.
 */
export function renderTable(table: Table): string {
  const width = table.columns.length;
  const rows = table.rows.map((r) => Array.from({ length: width }, (_, i) => r[i] ?? ""));
  const rightAligned = table.columns.map(
    (_, i) => rows.length > 0 && rows.every((r) => numeric(r[i] ?? "") || r[i] === ""),
  );
  const widths = table.columns.map((c, i) =>
    Math.max(3, c.length, ...rows.map((r) => (r[i] ?? "").length)),
  );
  const pad = (cell: string, i: number) =>
    rightAligned[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
  const line = (cells: string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (rightAligned[i] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  const out = [`### ${table.title}`, "", line(table.columns), rule, ...rows.map(line)];
  if (table.notes && table.notes.length > 0) out.push("", ...table.notes.map((n) => `- ${n}`));
  return `${out.join("\n")}\n`;
}

/** The share of a run's events below which (and above 1 − which) the steady window excludes. */
export const STEADY_EDGE = 0.1;

/**
 * The steady rate of a run: events reported between the 10th and the 90th percentile of
 * reported_at, divided by the time between them — without the first claim (processes warming
 * up, the stream's session) and the tail (the last requests in flight). `t10`/`t90` are the
 * nearest-rank percentiles (ms) of `n` reported events. NaN when the window is empty. Pure.
 */
export function steadyRate(n: number, t10: number, t90: number): number {
  const lo = Math.max(1, Math.ceil(STEADY_EDGE * n));
  const hi = Math.max(1, Math.ceil((1 - STEADY_EDGE) * n));
  return rate(hi - lo, t90 - t10);
}

/** CPU ms per event; NaN when either is missing or no event was counted. */
export function perEvent(cpuMs: number, events: number): number {
  return events > 0 && Number.isFinite(cpuMs) ? cpuMs / events : Number.NaN;
}

/** CPU ms per event for a table: two decimals, three under 0.1 ms. */
export function cpuCell(value: number): string {
  return num(value, Number.isFinite(value) && Math.abs(value) < 0.1 ? 3 : 2);
}
