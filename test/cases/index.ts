// Every op family's cases (one file per family, the ops' family names).
import type { OpCase } from './case.js';
import { cases as activation } from './activation.js';
import { cases as norm } from './norm.js';
import { cases as rope } from './rope.js';
import { cases as attention } from './attention.js';
import { cases as embedding } from './embedding.js';
import { cases as loss } from './loss.js';
import { cases as copy } from './copy.js';
import { cases as linear } from './linear.js';
import { cases as nf4 } from './nf4.js';
import { cases as optim } from './optim.js';

export const ALL_CASES: OpCase[] = [
  ...activation,
  ...norm,
  ...rope,
  ...attention,
  ...embedding,
  ...loss,
  ...copy,
  ...linear,
  ...nf4,
  ...optim,
];
export const FAMILIES = [...new Set(ALL_CASES.map((c) => c.family))];
