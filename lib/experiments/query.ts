// Q-0S / Q-1S / Q-2S through an OpenAI-compatible endpoint: the paper's prompts sent as one user
// message, responses parsed as comma lists, metrics and per-row predictions (resumable via the cache).
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { loadPrepared, type PreparedRow, type PreparedShotRow } from '../data/output.js';
import { renderPrompt, type Setting, type TemplateSpec } from '../prompts/templates.js';
import { ChatClient, type ChatClientOptions } from '../eval/openai.js';
import { parseResponse } from '../eval/parse.js';
import { multilabelMetrics } from '../eval/metrics.js';
import { truthBits } from '../examples/build.js';
import { specFor } from './run.js';
import type { RunResult } from './report.js';
import { withRunFolder, writeFileAtomic } from '../io/files.js';

export interface QueryRun extends Omit<ChatClientOptions, 'apiKey' | 'cacheFile'> {
  prepared: string;
  setting: Setting;
  out: string;
  /** name of the environment variable holding the API key */
  apiKeyEnv?: string;
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function runQuery(o: QueryRun): Promise<RunResult> {
  if (!o.setting.startsWith('Q-')) throw new ConfigError(`query runs the prompting settings Q-0S, Q-1S, Q-2S (got ${o.setting})`);
  const apiKey = o.apiKeyEnv ? process.env[o.apiKeyEnv] : undefined;
  if (o.apiKeyEnv && !apiKey) throw new ConfigError(`the environment variable ${o.apiKeyEnv} (the API key) is not set`);
  const t0 = performance.now();
  const data = await loadPrepared(o.prepared);
  const spec = specFor(data.manifest);
  const shots = o.setting === 'Q-1S' ? 1 : o.setting === 'Q-2S' ? 2 : 0;
  const rows = (shots ? data.shots[shots] : data.splits.test).slice(0, o.limit);
  return withRunFolder(o.out, () => queryLocked(o, apiKey, rows, spec, data, t0)); // one writer per run folder (the response cache too)
}

async function queryLocked(o: QueryRun, apiKey: string | undefined, rows: (PreparedRow | PreparedShotRow)[], spec: TemplateSpec,
                           data: Awaited<ReturnType<typeof loadPrepared>>, t0: number): Promise<RunResult> {
  const client = new ChatClient({ ...o, apiKey, cacheFile: path.join(o.out, 'responses.cache.jsonl') });
  let done = 0;
  const responses = await Promise.all(rows.map(async (r) => {
    const prompt = renderPrompt(spec, o.setting, { text: r.text, user: r.annotator, examples: (r as PreparedShotRow).examples });
    const resp = await client.complete(prompt);
    o.onProgress?.(++done, rows.length);
    return resp;
  }));
  const parsed = responses.map((r) => parseResponse(r, spec.labels));
  const truth = rows.map((r) => truthBits(spec, r.labels));
  const m = multilabelMetrics(spec.labels, truth, parsed.map((p) => p.labels), rows.map((r) => r.annotator));
  const unknownWords = parsed.reduce((n, p) => n + p.unknown.length, 0);
  const result: RunResult = { dataset: String(data.manifest.dataset), model: o.model, setting: o.setting, f1Macro: m.f1Macro,
    f1Micro: m.f1Micro, subsetAccuracy: m.subsetAccuracy, perUserF1Mean: m.perUser.mean, rows: rows.length, unknownWords,
    seconds: (performance.now() - t0) / 1e3 };
  writeFileAtomic(path.join(o.out, 'metrics.json'), JSON.stringify({ ...result, metrics: m }, null, 2) + '\n');
  writeFileAtomic(path.join(o.out, 'predictions.jsonl'), rows.map((r, i) => JSON.stringify({ user: r.annotator, text: r.text,
    response: responses[i], predicted: spec.labels.filter((_, j) => parsed[i].labels[j]), truth: r.labels, unknown: parsed[i].unknown })).join('\n') + '\n');
  return result;
}
