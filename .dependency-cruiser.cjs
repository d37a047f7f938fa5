// The layer rules of lib/ (docs/ARCHITECTURE.md): each layer may import only the layers below it,
// and nothing may form an import circle (type-only imports included). Checked in `npm test`.
const LAYERS = [
  ['errors', '^lib/errors\\.ts$'],
  ['native', '^lib/native/'],
  ['tensor', '^lib/(tensor|info)\\.ts$'],
  ['ops', '^lib/ops/'],
  ['util', '^lib/util/'],
  ['io', '^lib/io/'],
  ['data', '^lib/data/'],
  ['prompts', '^lib/prompts/'],
  ['models', '^lib/models/'],
  ['examples', '^lib/examples/'],
  ['eval', '^lib/eval/'],
  ['train', '^lib/train/'],
  ['experiments', '^lib/experiments/'],
  ['serve', '^lib/serve/'],
  ['queue', '^lib/queue/'],
  ['package', '^lib/index\\.ts$'],
];
const upward = LAYERS.map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} may import only layers below it`,
  severity: 'error',
  from: { path },
  to: {
    path:
      LAYERS.slice(i + 1)
        .map(([, p]) => `(${p})`)
        .join('|') || '^$',
  },
}));
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    ...upward.filter((r) => r.to.path !== '^$'),
    {
      name: 'adapters-know-only-the-interface',
      comment: 'PEFT IO and the generators depend on models/model.ts, never on a concrete model',
      severity: 'error',
      from: { path: '^lib/models/(peft|greedy|model|batch)\\.ts$|^lib/models/(decoder|t5)/generate\\.ts$' },
      to: { path: '^lib/models/(decoder|t5)/model\\.ts$|^lib/models/load\\.ts$' },
    },
    { name: 'lib-never-imports-tests', severity: 'error', from: { path: '^lib/' }, to: { path: '^(test|bench|bin)/' } },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
  },
};
