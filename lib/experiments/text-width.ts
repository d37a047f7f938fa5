// Text extents for laying out chart labels without a renderer: DejaVu Sans (and Bold) advance widths
// (per 1000 em, from scripts/font-widths.mjs on DejaVuSans{,-Bold}.ttf 2.37.3). The charts name DejaVu Sans
// first; where another sans-serif renders them, widths differ by a few per cent, which the layout's
// padding absorbs. Kerning is ignored (it only narrows).

const ASCII = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337,
  838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684,
  989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635,
  411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
];
const EXTRA: Record<string, number> = { '·': 318, '±': 838, '→': 838, '–': 500, '—': 1000, '…': 1000, '×': 838, '−': 838 };
// DejaVu Sans Bold (titles)
const BOLD = [
  348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400,
  838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774,
  1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716,
  493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];
const BOLD_EXTRA: Record<string, number> = { '·': 380, '±': 838, '→': 838, '–': 500, '—': 1000, '…': 1000, '×': 838, '−': 838 };
/** a character outside the table: as wide as the widest letter, so a layout errs on the roomy side */
const UNKNOWN = 1000;

/** Width in pixels of `s` at `size` px (`bold`: DejaVu Sans Bold). */
export function textWidth(s: string, size: number, bold = false): number {
  const [ascii, extra] = bold ? [BOLD, BOLD_EXTRA] : [ASCII, EXTRA];
  let w = 0;
  for (const c of s) {
    const code = c.codePointAt(0)!;
    w += code >= 32 && code < 127 ? ascii[code - 32] : (extra[c] ?? UNKNOWN);
  }
  return (w / 1000) * size;
}

/** The font's ascent and descent as fractions of the size (DejaVu Sans: 0.928 and 0.236). */
export const ASCENT = 0.93,
  DESCENT = 0.24;

/** Greedy word wrap of `s` into lines of at most `max` px at `size` (a single over-long word stays whole). */
export function wrapText(s: string, size: number, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, size) > max) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}
