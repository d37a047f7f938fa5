// The server's model thread: loads the served models (engine.ts) and runs one batch at a time
// as the HTTP thread sends them. Streaming text goes back as it is generated; a request the
// client dropped is flagged in shared memory, read between decoding steps (this thread never
// yields inside a batch).
import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type ClassifyRow, type GenerateRow } from './engine.js';
import type { ServedModel } from './models.js';

export interface WorkerData {
  models: ServedModel[];
  /** Int32 per batch row: 1 = cancelled (written by the HTTP thread) */
  cancel: SharedArrayBuffer;
}
export type ToWorker =
  | { type: 'classify'; batch: number; model: string; rows: ClassifyRow[] }
  | { type: 'generate'; batch: number; model: string; rows: GenerateRow[]; stream: boolean[] }
  | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; name: string; message: string }
  | { type: 'text'; batch: number; row: number; delta: string }
  | { type: 'done'; batch: number; results: unknown[]; ms: number };

const port = parentPort!;
const data = workerData as WorkerData;
const cancel = new Int32Array(data.cancel);
let engine: Engine | null = null;
try {
  engine = new Engine(data.models);
  port.postMessage({ type: 'ready' } satisfies FromWorker);
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  port.postMessage({ type: 'failed', name: err.name, message: err.message } satisfies FromWorker);
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'close' || !engine) {
    engine?.dispose();
    engine = null;
    port.close();
    return;
  }
  const t0 = performance.now();
  const results =
    m.type === 'classify'
      ? engine.classify(m.model, m.rows)
      : engine.generate(m.model, m.rows, {
          onText: (row, delta) => {
            if (m.stream[row]) port.postMessage({ type: 'text', batch: m.batch, row, delta } satisfies FromWorker);
          },
          cancelled: (row) => Atomics.load(cancel, row) === 1,
        });
  port.postMessage({ type: 'done', batch: m.batch, results, ms: performance.now() - t0 } satisfies FromWorker);
});
