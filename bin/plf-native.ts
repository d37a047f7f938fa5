#!/usr/bin/env node
// The plf-native command line: parses arguments and calls the library.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { info } from '../lib/info.js';

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
