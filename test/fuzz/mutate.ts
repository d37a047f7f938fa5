// Seeded mutations for the fuzz campaign: bytes (bit flips, interesting values, cuts, splices) and
// JSON (a value swapped for a hostile one, a key dropped, deep nesting, path escapes). One seed and
// case number give one input, so a failure replays exactly.
import { Rng } from '../../lib/util/random.js';

export function caseRng(seed: number, target: string, i: number): Rng {
  let h = seed >>> 0;
  for (const c of `${target}#${i}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return new Rng(h || 1);
}

export const int = (r: Rng, n: number) => Math.floor(r.next() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];

const BYTES = [0x00, 0xff, 0x7f, 0x80, 0x22, 0x5c, 0x2c, 0x0a, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0xc3, 0xe2, 0xf0, 0xed, 0xc0];

/** A copy of `b` with 1–4 byte-level mutations; `hot` bytes (a header) are hit more often. */
export function mutateBytes(r: Rng, b: Uint8Array, hot = b.length): Uint8Array {
  let out = Buffer.from(b);
  const at = (n: number) => (r.next() < 0.7 && hot > 0 ? int(r, Math.min(hot, n)) : int(r, Math.max(n, 1)));
  for (let k = 1 + int(r, 4); k > 0; k--) {
    const n = out.length;
    switch (int(r, 8)) {
      case 0:
        if (n) out[at(n)] ^= 1 << int(r, 8);
        break;
      case 1:
        if (n) out[at(n)] = pick(r, BYTES);
        break;
      case 2:
        out = out.subarray(0, at(n));
        break; // truncate
      case 3: {
        const p = at(n);
        out = Buffer.concat([out.subarray(0, p), out.subarray(p + 1 + int(r, 16))]);
        break;
      }
      case 4: {
        const p = at(n);
        out = Buffer.concat([out.subarray(0, p), Buffer.from([pick(r, BYTES), pick(r, BYTES)]), out.subarray(p)]);
        break;
      }
      case 5: {
        const p = at(n),
          q = int(r, Math.max(n, 1));
        out = Buffer.concat([out.subarray(0, p), out.subarray(q, q + 1 + int(r, 64)), out.subarray(p)]);
        break;
      }
      case 6:
        if (n >= 8) {
          const p = at(n - 8);
          const v = pick(r, [0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 62n, 2n ** 63n - 1n, BigInt(n)]);
          out.writeBigUInt64LE(v, p);
        }
        break;
      default:
        if (n >= 4) {
          const p = at(n - 4);
          out.writeInt32LE(pick(r, [0, -1, 1, 0x7fffffff, -0x80000000, 65536]), p);
        }
    }
  }
  return out;
}

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Hostile JSON values: sizes at and past every limit, wrong types, path escapes, deep nesting. */
export function hostileValue(r: Rng): unknown {
  return pick(r, [
    0,
    -1,
    1,
    2,
    3,
    7,
    0.5,
    -0.0,
    1e9,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 62,
    1e308,
    -1e308,
    1e-320,
    null,
    true,
    false,
    '',
    'x',
    '../../../../etc/passwd',
    '/etc/passwd',
    'a\u0000b',
    'NaN',
    'Infinity',
    '1e9',
    [],
    [1],
    [-1, 2],
    [2 ** 40, 2 ** 40],
    {},
    { a: 1 },
    'x'.repeat(5000),
    deep(20000),
    'nf4',
    'fp4',
    'LORA',
    'bfloat16',
    'int64',
    '(a+)+$',
    '([a-z]+)*!',
    '\\p{L}+',
    '{{ range(100000000) }}',
    '{% for i in range(100000000) %}x{% endfor %}',
    "{{ 'x' * 100000000 }}",
    '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}',
  ]);
}

type J = unknown;
function paths(v: J, at: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  out.push(at);
  if (depth > 8 || out.length > 4000) return out;
  if (Array.isArray(v)) {
    for (let i = 0; i < Math.min(v.length, 50); i++) paths(v[i], [...at, i], out, depth + 1);
  } else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, J>)[k], [...at, k], out, depth + 1);
  return out;
}

/** A mutated deep copy of `v`: 1–3 values replaced, keys dropped or renamed. */
export function mutateJson(r: Rng, v: J): J {
  const root = { v: structuredClone(v) } as Record<string, J>;
  for (let k = 1 + int(r, 3); k > 0; k--) {
    const all = paths(root.v).map((p) => ['v', ...p]);
    const p = pick(r, all);
    let parent: Record<string | number, J> = root as Record<string | number, J>;
    for (const s of p.slice(0, -1)) parent = parent[s] as Record<string | number, J>;
    const key = p[p.length - 1];
    const op = int(r, 6);
    if (op === 0 && key !== 'v' && !Array.isArray(parent)) delete parent[key];
    else if (op === 1 && typeof parent[key] === 'number') parent[key] = (parent[key] as number) * pick(r, [-1, 0, 2, 1000, 1e9, 0.5]);
    else if (op === 2 && typeof parent[key] === 'string')
      parent[key] = (parent[key] as string) + pick(r, ['/../..', '\u0000', '.', 'x'.repeat(100), '(a+)+']);
    else parent[key] = hostileValue(r);
  }
  return root.v;
}
