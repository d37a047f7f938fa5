// The data procedure: the real GoEmotions sample's expected counts, determinism, Unhealthy with
// its real official split files, custom datasets (POPQUORN, MD-Agreement), and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPrepare, loadPrepared, FormatError, ConfigError } from '../lib/index.js';
import { sharedPath, skipMessage } from './helpers.js';

const GE = 'data/goemotions';
const ge = sharedPath(GE);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'plf-prep-'));

test(
  'GoEmotions sample: 48 annotators in every split, 3,111 / 405 / 378 rows from 4,895',
  { skip: ge ? false : skipMessage(GE) },
  async () => {
    const outs = [tmp(), tmp()];
    try {
      const runs = [];
      for (const out of outs)
        runs.push(
          await runPrepare({
            dataset: 'goemotions',
            input: [path.join(ge!, 'goemotions_1.prefix-sample.csv')],
            splits: path.join(ge!, 'official_split_aggregated'),
            out,
          }),
        );
      const m = runs[0].manifest as { counts: Record<string, number>; splits: Record<string, { annotators: number; rows: number }> };
      assert.equal(m.counts.raw, 4895);
      assert.deepEqual([m.splits.train.rows, m.splits.val.rows, m.splits.test.rows], [3111, 405, 378]);
      for (const s of ['train', 'val', 'test']) assert.equal(m.splits[s].annotators, 48, s);
      assert.equal(m.counts.annotators, 48);
      assert.match(runs[0].text, /train +3111 rows/);
      // determinism: the same seed gives the same rows and few-shot examples
      const [a, b] = [await loadPrepared(outs[0]), await loadPrepared(outs[1])];
      assert.deepEqual(a.splits, b.splits);
      assert.deepEqual(a.shots, b.shots);
      // few-shot examples come from the same annotator's other test items
      const byKey = new Map(a.splits.test.map((r) => [`${r.annotator}|${r.text}`, r]));
      assert.ok(a.shots[2].length > 300);
      for (const r of a.shots[2]) {
        assert.equal(r.examples.length, 2);
        for (const e of r.examples) {
          assert.notEqual(e.text, r.text);
          assert.ok(byKey.has(`${r.annotator}|${e.text}`), 'an example is a test row of the same annotator');
        }
      }
      // responses are positive labels in label order
      const order = new Map((a.manifest.labels as string[]).map((l, i) => [l, i]));
      for (const r of a.splits.train)
        assert.deepEqual(
          r.labels,
          [...r.labels].sort((x, y) => order.get(x)! - order.get(y)!),
        );
      // another seed samples other rows for capped annotators, with the same counts
      const other = tmp();
      const r3 = await runPrepare({
        dataset: 'goemotions',
        input: [path.join(ge!, 'goemotions_1.prefix-sample.csv')],
        splits: path.join(ge!, 'official_split_aggregated'),
        out: other,
        seed: 7,
      });
      assert.deepEqual((r3.manifest as typeof m).splits.train.rows, 3111);
      const c = await loadPrepared(other);
      assert.notDeepEqual(
        c.splits.train.map((r) => r.item),
        a.splits.train.map((r) => r.item),
      );
      fs.rmSync(other, { recursive: true, force: true });
    } finally {
      outs.forEach((o) => fs.rmSync(o, { recursive: true, force: true }));
    }
  },
);

test(
  'Unhealthy Conversations: rows in the unhealthy_full.csv schema, split by the real aggregated files',
  { skip: sharedPath('data/unhealthy') ? false : skipMessage('data/unhealthy') },
  async () => {
    const dir = sharedPath('data/unhealthy/official_aggregated')!;
    const ids = (f: string) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[0])
        .filter(Boolean);
    const val = ids('val.csv').slice(0, 30),
      test = ids('test.csv').slice(0, 30);
    const train = Array.from({ length: 60 }, (_, i) => String(900000000 + i)); // in neither file: train
    const labels = [
      'antagonize',
      'condescending',
      'dismissive',
      'generalisation',
      'generalisation_unfair',
      'healthy',
      'hostile',
      'sarcastic',
    ];
    const lines = ['_unit_id,_trust,_worker_id,comment,' + labels.join(',')];
    let n = 0;
    for (const [items, k] of [
      [train, 0],
      [val, 1],
      [test, 2],
    ] as const)
      items.forEach((id, i) => {
        for (let w = 0; w < 4; w++) {
          const bits = labels.map((_, j) => ((i + w + j + k) % 5 === 0 ? 1 : 0));
          if (w === 3 && i % 7 === 0) bits.fill(0); // no positive label: dropped
          lines.push(`${id},0.9,worker${w},"comment ${id}, by ""${w}""",${bits.join(',')}`);
          n++;
        }
      });
    const out = tmp();
    try {
      fs.writeFileSync(path.join(out, 'unhealthy_full.csv'), lines.join('\n'));
      const r = await runPrepare({
        dataset: 'unhealthy',
        input: [path.join(out, 'unhealthy_full.csv')],
        splits: dir,
        out: path.join(out, 'p'),
      });
      const m = r.manifest as { counts: Record<string, number>; splits: Record<string, { items: number; annotators: number }> };
      assert.equal(m.counts.raw, n);
      assert.ok(m.counts.noPositive > 0);
      assert.equal(m.splits.test.annotators, 4);
      // every row sits in the split its item belongs to (capping at 60% of the top annotator thins each split)
      const p = await loadPrepared(path.join(out, 'p'));
      const sets = { train: new Set(train), val: new Set(val), test: new Set(test) };
      for (const s of ['train', 'val', 'test'] as const) {
        assert.ok(p.splits[s].length > 0);
        assert.ok(
          p.splits[s].every((r) => sets[s].has(r.item)),
          s,
        );
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  },
);

test('custom datasets through a column map: POPQUORN (label list) and MD-Agreement (item records)', async (t) => {
  const pop = sharedPath('data/popquorn/raw_data.csv'),
    md = sharedPath('data/md-agreement');
  if (!pop || !md) return t.skip(skipMessage('data/popquorn, data/md-agreement'));
  const out = tmp();
  try {
    const a = await runPrepare({
      dataset: 'custom',
      name: 'popquorn',
      input: [pop],
      split: 'random:0.8,0.1,0.1',
      out: path.join(out, 'pop'),
      columns: { text: 'text', annotator: 'user_id', item: 'instance_id', labelList: 'offensiveness' },
    });
    const pm = a.manifest as { labels: string[]; counts: Record<string, number> };
    assert.deepEqual(pm.labels, ['1.0', '2.0', '3.0', '4.0', '5.0']);
    assert.equal(pm.counts.raw, 13036);
    assert.ok(pm.counts.annotators > 200);
    const b = await runPrepare({
      dataset: 'custom',
      name: 'md-agreement',
      out: path.join(out, 'md'),
      input: ['train', 'dev', 'test'].map((s) => path.join(md, `MD-Agreement_${s}.json`)),
      columns: {
        text: 'text',
        annotator: '',
        item: '$key',
        annotatorList: 'annotators',
        annotationList: 'annotations',
        splitField: 'split',
        valueNames: { 0: 'not offensive', 1: 'offensive' },
      },
    });
    const mm = b.manifest as { labels: string[]; counts: Record<string, number> };
    assert.deepEqual(mm.labels, ['not offensive', 'offensive']);
    assert.equal(mm.counts.raw, 53765);
    assert.ok(mm.counts.annotators > 0);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('bad input: non-0/1 labels, unknown labels, missing columns, empty text, bad split spec', async () => {
  const out = tmp();
  try {
    const head =
      'text,id,author,subreddit,link_id,parent_id,created_utc,rater_id,example_very_unclear,' +
      'admiration,amusement,anger,annoyance,approval,caring,confusion,curiosity,desire,disappointment,disapproval,disgust,' +
      'embarrassment,excitement,fear,gratitude,grief,joy,love,nervousness,optimism,pride,realization,relief,remorse,sadness,surprise,neutral';
    const row = (text: string, v: string) => `${text},id1,a,s,l,p,1.0,7,False,${[v, ...Array(27).fill('0')].join(',')}`;
    fs.writeFileSync(path.join(out, 'bad.csv'), [head, row('ok', '1'), row('bad', '2')].join('\n'));
    await assert.rejects(
      runPrepare({ dataset: 'goemotions', input: [path.join(out, 'bad.csv')], split: 'random:0.8,0.1,0.1', out: path.join(out, 'o') }),
      (e: Error) => e instanceof FormatError && /bad\.csv:3/.test(e.message) && /'admiration' must be 0 or 1, got "2"/.test(e.message),
    );
    fs.writeFileSync(path.join(out, 'nocol.csv'), 'text,id\nx,1\n');
    await assert.rejects(
      runPrepare({ dataset: 'goemotions', input: [path.join(out, 'nocol.csv')], split: 'random:0.8,0.1,0.1', out: path.join(out, 'o') }),
      (e: Error) => e instanceof FormatError && /nocol\.csv:1/.test(e.message) && /missing column/.test(e.message),
    );
    fs.writeFileSync(path.join(out, 'empty.csv'), [head, row('ok', '1'), row('""', '1')].join('\n'));
    const r = await runPrepare({
      dataset: 'goemotions',
      input: [path.join(out, 'empty.csv')],
      split: 'random:1,0,0',
      out: path.join(out, 'e'),
    });
    assert.equal((r.manifest as { counts: Record<string, number> }).counts.emptyText, 1, 'empty text is skipped and counted');
    fs.writeFileSync(path.join(out, 'c.csv'), 'txt,who,id,labs\nhello,u1,1,"a,zz"\n');
    await assert.rejects(
      runPrepare({
        dataset: 'custom',
        input: [path.join(out, 'c.csv')],
        split: 'random:0.8,0.1,0.1',
        out: path.join(out, 'o'),
        columns: { text: 'txt', annotator: 'who', item: 'id', labelList: 'labs', labelNames: ['a', 'b'] },
      }),
      (e: Error) => e instanceof FormatError && /c\.csv:2/.test(e.message) && /unknown label 'zz'/.test(e.message),
    );
    await assert.rejects(
      runPrepare({ dataset: 'goemotions', input: [path.join(out, 'empty.csv')], split: 'random:0.5,0.1', out: path.join(out, 'o') }),
      (e: Error) => e instanceof ConfigError && /random:TRAIN,VAL,TEST/.test(e.message),
    );
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
