#!/usr/bin/env node
// The plf-native command line: parses arguments and calls the library.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { info } from '../lib/info.js';
import { runPrepare } from '../lib/data/run.js';

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

function printInfo(json: boolean): void {
  const i = info();
  if (json) {
    console.log(JSON.stringify(i, null, 2));
    return;
  }
  const b = i.build, c = i.cuda;
  console.log(`plf-native ${i.version} (node ${i.node}, N-API ${b.napiVersion})`);
  console.log(`  CPU:    ${b.threads} OpenMP threads${b.openmp ? '' : ' (OpenMP not found: single-threaded)'}, SIMD ${b.simd}`);
  console.log(`  CUDA:   ${b.cuda ? `compiled (${b.cudaBuild}, archs ${b.cudaArchs})` : `not compiled (${b.cudaBuild})`}`);
  if (c.usable) {
    const drv = `${Math.floor(c.driverVersion / 1000)}.${(c.driverVersion % 1000) / 10}`;
    console.log(`  device: ${c.name}, compute ${c.computeCapability}, ${formatBytes(c.totalMemory)}, driver CUDA ${drv}`);
  } else {
    console.log(`  device: none usable — ${c.reason}; running on the CPU`);
  }
}

await yargs(hideBin(process.argv))
  .scriptName('plf-native')
  .command('info', 'show the build (CUDA, OpenMP, SIMD) and the CUDA device', (y) =>
    y.option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
      .example('$0 info --json', 'build and device as JSON'),
    (a) => printInfo(a.json))
  .command('prepare', 'per-annotator splits, filters and few-shot sets (the paper\'s data procedure) → parquet + manifest.json',
    (y) => y
      .option('dataset', { choices: ['goemotions', 'unhealthy', 'custom'] as const, demandOption: true, describe: 'which raw format' })
      .option('input', { type: 'string', array: true, demandOption: true, describe: 'raw annotation file(s): goemotions_{1,2,3}.csv, unhealthy_full.csv, or CSV/TSV/JSON(L)' })
      .option('splits', { type: 'string', describe: 'official split folder (goemotions: official_split_aggregated, unhealthy: official_aggregated)' })
      .option('split', { type: 'string', describe: 'random:TRAIN,VAL,TEST item fractions instead of the official split' })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder' })
      .option('seed', { type: 'number', default: 42 })
      .option('min-share', { type: 'number', default: 0.05, describe: 'drop annotators with fewer rows than this × the top annotator (per split)' })
      .option('max-share', { type: 'number', default: 0.6, describe: 'cap annotators at floor(this × the top annotator) rows (per split)' })
      .option('columns', { type: 'string', describe: 'custom: JSON column map file (text, annotator, item, labelColumns | labelList, …)' })
      .option('name', { type: 'string', describe: 'custom: dataset name' })
      .option('json', { type: 'boolean', default: false })
      .example('$0 prepare --dataset goemotions --input data/goemotions_1.csv data/goemotions_2.csv data/goemotions_3.csv --splits data/official_split_aggregated --out prepared/goemotions', '')
      .example('$0 prepare --dataset custom --input raw.csv --columns map.json --split random:0.8,0.1,0.1 --out prepared/mine', ''),
    async (a) => {
      const r = await runPrepare({ dataset: a.dataset, input: a.input, splits: a.splits, split: a.split, out: a.out, seed: a.seed,
        minShare: a['min-share'], maxShare: a['max-share'], columns: a.columns, name: a.name });
      console.log(a.json ? JSON.stringify(r.manifest, null, 2) : `${r.text}\nwritten to ${a.out}`);
    })
  .demandCommand(1, 'name a command (try: plf-native info)')
  .strict()
  .help()
  .fail((msg, err) => {
    if (err) {
      console.error(`plf-native: ${err.message}`);
    } else {
      console.error(`plf-native: ${msg}`);
      console.error('run plf-native --help for the commands');
    }
    process.exit(1);
  })
  .parseAsync();
