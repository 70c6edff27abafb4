/** Most edits between a typed field name and a known one for a "did you mean". */
const MAX_EDITS = 2;

/**
 * "; did you mean event_name?" when a known field is a typo or two away, or a truncation of it;
 * "" otherwise. The cost is bounded whatever the typed name's length: a distance is computed only
 * for names of nearly the same length, and a prefix's distance is the length difference.
 */
export function suggestion(typedName: string, known: readonly string[]): string {
  const typed = typedName.toLowerCase();
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const truncated = typed.length >= 4 && (name.startsWith(typed) || typed.startsWith(name));
    const gap = Math.abs(typed.length - name.length);
    // Edits are at least the length gap: beyond MAX_EDITS only a truncation can qualify.
    const d = truncated ? gap : gap <= MAX_EDITS ? distance(typed, name) : Number.POSITIVE_INFINITY;
    if ((d <= MAX_EDITS || truncated) && d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best === null ? "" : `; did you mean ${best}?`;
}

/** Levenshtein distance; called only on names of nearly equal length, so quadratic is nothing. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
