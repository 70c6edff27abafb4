/**
 * One CSV record (RFC 4180 fields: commas, double quotes, "" for a quote inside quotes) from one
 * line. A quoted field cannot span lines here: the importer reads line by line so that every
 * error names its line. Returns null when a quote is left open. Pure.
 */
export function parseCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i >= line.length) return fields;
      if (line[i] !== ",") return null;
      i++;
      continue;
    }
    const comma = line.indexOf(",", i);
    if (comma === -1) {
      fields.push(line.slice(i));
      return fields;
    }
    fields.push(line.slice(i, comma));
    i = comma + 1;
  }
}
