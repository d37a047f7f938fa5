// Progress bars on stderr for the long steps (training, evaluation, queries): bar, count, ETA and
// whatever fields the step reports (loss, tokens/s, memory). On a terminal one line is redrawn at
// most 10 times a second; elsewhere (logs, CI) a line is printed every 10% so logs stay short.
import { memory } from '../tensor.js';

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  width?: number;
  /** redraw in place (default: the stream is a TTY) */
  tty?: boolean;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Live host + device bytes held by native tensors, and the process RSS. */
export function memoryField(): string {
  const m = memory();
  const mib = (n: number) => (n / 2 ** 20).toFixed(0);
  const gpu = m.cuda.live ? ` gpu ${mib(m.cuda.live)} MiB` : '';
  return `mem ${mib(m.cpu.live)} MiB rss ${mib(process.memoryUsage.rss())} MiB${gpu}`;
}

export class ProgressBar {
  private readonly t0 = performance.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private drawn = false;
  /** `done` at the first update: what the elapsed time is measured against */
  private base: number | null = null;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly o: ProgressOptions = {},
  ) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? Boolean(this.stream.isTTY);
  }

  /** The line for `done` of `total` (exposed for tests); `etaS` replaces the wall-clock estimate (training time only). */
  render(done: number, fields = '', etaS?: number): string {
    const w = this.o.width ?? 24,
      frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const full = Math.round(frac * w);
    const el = (performance.now() - this.t0) / 1e3;
    // the rate counts from the first update (a bar made at step 1 has not timed step 1): '–' until a second one
    const since = done - (this.base ?? 0);
    const eta = etaS ?? (since > 0 ? (el / since) * (this.total - done) : NaN);
    return (
      `${this.label} [${'#'.repeat(full)}${'.'.repeat(w - full)}] ${done}/${this.total} ${(100 * frac).toFixed(0)}%` +
      `  ${formatDuration(el)} ETA ${formatDuration(eta)}${fields ? '  ' + fields : ''}`
    );
  }

  update(done: number, fields = '', total?: number, etaS?: number): void {
    if (total !== undefined) this.total = total;
    this.base ??= done;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.render(done, fields, etaS)}\x1b[K`);
      this.drawn = true;
    } else {
      const decile = this.total > 0 ? Math.floor((10 * done) / this.total) : 0;
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.stream.write(this.render(done, fields, etaS) + '\n');
    }
  }

  /** A message above the bar (eval results, notices). */
  log(msg: string): void {
    this.stream.write((this.tty && this.drawn ? '\r\x1b[K' : '') + msg + '\n');
    this.drawn = false;
  }

  finish(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** One optimizer step as the trainers report it: `seconds` is its compute time (forward, backward, update). */
export interface StepReport {
  step: number;
  total: number;
  loss: number;
  lr: number;
  tokens: number;
  seconds?: number;
}

/**
 * Bars for one run: training steps (loss, lr, tokens/s, memory), eval lines, evaluation rows.
 * Tokens/s and the training ETA count step time only: evaluations and checkpoints between steps are
 * not training throughput, and a bar that counted them would promise the wrong finish.
 */
export function settingHooks(label: string, o: ProgressOptions = {}) {
  let train: ProgressBar | null = null,
    rows: ProgressBar | null = null;
  let tokens = 0,
    trainS = 0,
    timed = 0;
  const stream = o.stream ?? process.stderr;
  return {
    onStep(s: StepReport) {
      if (!train) {
        train = new ProgressBar(`${label} train`, s.total, o);
        tokens = trainS = timed = 0;
      }
      if (s.seconds !== undefined && s.seconds > 0) {
        tokens += s.tokens;
        trainS += s.seconds;
        timed++;
      }
      const tps = timed ? (tokens / trainS).toFixed(0) : '–';
      const eta = timed ? (trainS / timed) * (s.total - s.step) : NaN;
      train.update(s.step, `loss ${s.loss.toFixed(4)}  lr ${s.lr.toExponential(2)}  ${tps} tok/s  ${memoryField()}`, s.total, eta);
      if (s.step >= s.total) {
        train.finish();
        train = null;
      }
    },
    onEval(e: { step: number; loss: number | null; f1: number }) {
      const msg = `${label} eval @${e.step}: loss ${e.loss?.toFixed(4) ?? '–'}  F1-macro ${(100 * e.f1).toFixed(2)}`;
      if (train) train.log(msg);
      else stream.write(msg + '\n');
    },
    onEvalProgress(done: number, total: number) {
      rows ??= new ProgressBar(`${label} test`, total, o);
      rows.update(done, memoryField(), total);
      if (done >= total) {
        rows.finish();
        rows = null;
      }
    },
    onInfo(msg: string) {
      if (train) train.log(msg);
      else stream.write(msg + '\n');
    },
  };
}
