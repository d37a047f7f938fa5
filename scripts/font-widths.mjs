// Prints the advance widths (per 1000 em) of a TrueType font for the characters the charts use,
// as the table in lib/experiments/text-width.ts. Run: node scripts/font-widths.mjs FONT.ttf
// (the charts' table came from DejaVuSans.ttf of the dejavu-fonts-ttf package, 2.37.3).
import fs from 'node:fs';

const buf = fs.readFileSync(process.argv[2]);
const tables = new Map();
for (let i = 0, n = buf.readUInt16BE(4); i < n; i++) {
  const rec = 12 + 16 * i;
  tables.set(buf.toString('latin1', rec, rec + 4), buf.readUInt32BE(rec + 8));
}
const head = tables.get('head'),
  hhea = tables.get('hhea'),
  hmtx = tables.get('hmtx'),
  cmap = tables.get('cmap');
const unitsPerEm = buf.readUInt16BE(head + 18);
const nMetrics = buf.readUInt16BE(hhea + 34);
const advance = (g) => buf.readUInt16BE(hmtx + 4 * Math.min(g, nMetrics - 1));
// cmap format 4 (BMP), platform 3 encoding 1
let sub = -1;
for (let i = 0, n = buf.readUInt16BE(cmap + 2); i < n; i++) {
  const r = cmap + 4 + 8 * i;
  if (buf.readUInt16BE(r) === 3 && buf.readUInt16BE(r + 2) === 1) sub = cmap + buf.readUInt32BE(r + 4);
}
if (sub < 0 || buf.readUInt16BE(sub) !== 4) throw new Error('no format-4 Unicode cmap');
const segX2 = buf.readUInt16BE(sub + 6);
const ends = sub + 14,
  starts = ends + segX2 + 2,
  deltas = starts + segX2,
  offsets = deltas + segX2;
function glyph(cp) {
  for (let s = 0; s < segX2 / 2; s++) {
    const end = buf.readUInt16BE(ends + 2 * s),
      start = buf.readUInt16BE(starts + 2 * s);
    if (cp > end) continue;
    if (cp < start) return 0;
    const delta = buf.readInt16BE(deltas + 2 * s),
      ro = buf.readUInt16BE(offsets + 2 * s);
    if (!ro) return (cp + delta) & 0xffff;
    const g = buf.readUInt16BE(offsets + 2 * s + ro + 2 * (cp - start));
    return g ? (g + delta) & 0xffff : 0;
  }
  return 0;
}
const chars = [];
for (let c = 32; c < 127; c++) chars.push(String.fromCharCode(c));
chars.push('·', '±', '→', '–', '—', '…', '×', '−');
const w = chars.map((c) => Math.round((1000 * advance(glyph(c.codePointAt(0)))) / unitsPerEm));
console.log(`const ASCII = [${w.slice(0, 95).join(', ')}];`);
console.log(
  `const EXTRA: Record<string, number> = { ${chars
    .slice(95)
    .map((c, i) => `'${c}': ${w[95 + i]}`)
    .join(', ')} };`,
);
