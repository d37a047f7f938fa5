// Parsing a generated response into labels: a comma list, trimmed, case-insensitive, punctuation
// stripped; words that name no label are counted, not guessed.

export interface Parsed {
  labels: Uint8Array;
  unknown: string[];
}

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_ -]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();

export function parseResponse(response: string, labels: string[]): Parsed {
  const index = new Map(labels.map((l, i) => [norm(l), i]));
  const out = new Uint8Array(labels.length);
  const unknown: string[] = [];
  const firstLine = response.split('\n').find((l) => l.trim()) ?? '';
  for (const part of firstLine.split(/[,;]/)) {
    const w = norm(part);
    if (!w) continue;
    const i = index.get(w) ?? index.get(w.replace(/ /g, '_'));
    if (i === undefined) unknown.push(w);
    else out[i] = 1;
  }
  return { labels: out, unknown };
}
