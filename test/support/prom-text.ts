/**
 * Samples of a Prometheus text exposition, by `name{label="value",…}` with the labels sorted by
 * name (so a test need not know the order a library prints them in). Comments are skipped.
 */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name, labels = "", value = ""] = match;
    const pairs = [...labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map((m) => `${m[1]}="${m[2]}"`)
      .sort();
    out.set(pairs.length > 0 ? `${name}{${pairs.join(",")}}` : `${name}`, Number(value));
  }
  return out;
}

/** The metric families a text declares (its `# TYPE` lines), by name. */
export function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1] ?? "", m[2] ?? "");
  return out;
}
