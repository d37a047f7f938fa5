// The server's metrics in Prometheus' text format (version 0.0.4): counters, gauges and
// histograms with labels, nothing else.

type Labels = Record<string, string>;
const key = (l: Labels) =>
  Object.entries(l)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
}

export class Counter extends Family {
  private values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

export class Gauge extends Family {
  constructor(
    name: string,
    help: string,
    readonly read: () => number,
  ) {
    super(name, help, 'gauge');
  }
  lines(): string[] {
    return [`${this.name} ${this.read()}`];
  }
}

export class Histogram extends Family {
  private series = new Map<string, { counts: number[]; sum: number; n: number }>();
  constructor(
    name: string,
    help: string,
    readonly buckets: number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(v: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, n: 0 }));
    this.buckets.forEach((b, i) => {
      if (v <= b) s.counts[i]++;
    });
    s.sum += v;
    s.n++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const lab = (extra: string) => `{${[k, extra].filter(Boolean).join(',')}}`;
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${lab(`le="${b}"`)} ${s.counts[i]}`));
      out.push(
        `${this.name}_bucket${lab('le="+Inf"')} ${s.n}`,
        `${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`,
        `${this.name}_count${k ? `{${k}}` : ''} ${s.n}`,
      );
    }
    return out;
  }
}

/** Every metric the server keeps. */
export class ServerMetrics {
  readonly requests = new Counter('plf_requests_total', 'HTTP requests answered, by route and status');
  readonly latency = new Histogram(
    'plf_request_duration_seconds',
    'time from a request to its last byte, by route',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly batchSize = new Histogram('plf_batch_size', 'rows per forward batch, by kind', [1, 2, 4, 8, 16, 32, 64]);
  readonly tokens = new Counter('plf_generated_tokens_total', 'tokens generated');
  readonly promptTokens = new Counter('plf_prompt_tokens_total', 'prompt tokens read');
  private lastTokensPerSecond = 0;
  private families: { lines(): string[]; name: string; help: string; type: string }[];

  constructor(queueDepth: () => number, inflight: () => number) {
    this.families = [
      this.requests,
      this.latency,
      this.batchSize,
      this.tokens,
      this.promptTokens,
      new Gauge('plf_queue_depth', 'requests waiting for the model', queueDepth),
      new Gauge('plf_inflight_rows', 'rows in the batch the model is running', inflight),
      new Gauge('plf_tokens_per_second', 'generated tokens per second of the last generation batch', () => this.lastTokensPerSecond),
    ];
  }

  generationBatch(tokens: number, ms: number): void {
    this.tokens.inc({}, tokens);
    if (ms > 0) this.lastTokensPerSecond = (tokens / ms) * 1000;
  }

  render(): string {
    return this.families.flatMap((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.lines()]).join('\n') + '\n';
  }
}
