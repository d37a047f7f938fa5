// Every case of the op case table (test/cases/) timed on every available device: forward, and
// forward + backward where the op has one — so every op family has a benchmark. No peer here: the
// GPU peers are in bench/gpu.bench.ts (`npm run bench:gpu`).
import { Tensor, info, type Device } from '../lib/ops/index.js';
import { ALL_CASES } from '../test/cases/index.js';
import { toTensors, disposeAll } from '../test/cases/case.js';
import { medianMs, type Row } from './util.js';

export async function run(): Promise<Row[]> {
  const devices: Device[] = ['cpu', ...(info().cuda.usable ? (['cuda'] as const) : [])];
  const rows: Row[] = [];
  for (const device of devices)
    for (const c of ALL_CASES) {
      const t = toTensors(c.inputs(), device, 'f32', c.keepF32);
      const sync = () => {
        if (device === 'cuda') Tensor.zeros([1], 'f32', 'cuda').toFloat32(); // waits for the queued kernels
      };
      const fwd = await medianMs(
        `${c.op} fwd`,
        () => {
          disposeAll(c.forward(t));
          sync();
        },
        100,
      );
      rows.push({ suite: 'ops', case: `${c.family}/${c.op} ${c.name}, forward (${device})`, metric: 'ms', value: fwd });
      if (c.backward && c.grad) {
        const probe = c.forward(t);
        const shape = probe[c.grad.output].shape;
        disposeAll(probe);
        const dy = Tensor.zeros(shape, 'f32', device);
        const both = await medianMs(
          `${c.op} fwd+bwd`,
          () => {
            const o = c.forward(t);
            disposeAll(c.backward!(t, o, dy), o);
            sync();
          },
          100,
        );
        rows.push({ suite: 'ops', case: `${c.family}/${c.op} ${c.name}, forward + backward (${device})`, metric: 'ms', value: both });
        dy.dispose();
      }
      disposeAll(t);
    }
  return rows;
}
