/** One thing found wrong: what (an event id, a customer × meter pair, a batch) and how. */
export interface Finding {
  subject: string;
  detail: string;
}

/** Adds one to `key`'s count. */
export function bump(counts: Record<string, number> | Map<string, number>, key: string): void {
  if (counts instanceof Map) counts.set(key, (counts.get(key) ?? 0) + 1);
  else counts[key] = (counts[key] ?? 0) + 1;
}

/** "3 × a, 1 × b", for one-line messages. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}
