/**
 * kdkit's layers, lowest first. A module may import from its own folder and from the layers below
 * it, never from one above: data flows config → teacher → soft labels → training → evaluation →
 * gate → export → report → the run that orchestrates them → the CLI. `npm test` runs this check
 * (`npm run lint:deps`); `src/cli/import_graph.test.ts` checks that it catches a wrong import.
 */
const layers = [
  ['errors.ts', 'util', 'engine'],
  ['schedules'],
  ['methods'],
  ['config'],
  ['data'],
  ['models'],
  ['teachers'],
  ['train'],
  ['eval'],
  ['export'],
  ['report'],
  ['run'],
  ['cli', 'fuzz'],
  ['index.ts', 'layers.ts', 'browser.ts'],
];

const entry = (name) => (name.endsWith('.ts') ? `${name.replace('.ts', '[.]ts')}$` : `${name}/`);
const either = (names) => `^src/(${names.map(entry).join('|')})`;
// Tests sit beside the code they test, and may drive it from above (the CLI, a whole run).
const tests = '[.]test[.]';

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules that import each other cannot be understood, tested or moved apart.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...layers.slice(0, -1).map((layer, index) => ({
      name: `${layer.join('+')}-imports-upward`,
      severity: 'error',
      comment: `${layer.join(', ')} may not import from the layers above it: ${layers
        .slice(index + 1)
        .flat()
        .join(', ')}.`,
      from: { path: either(layer), pathNot: tests },
      to: { path: either(layers.slice(index + 1).flat()) },
    })),
    {
      name: 'no-unknown-folder',
      severity: 'error',
      comment: 'Every source folder has a place in the layer order above.',
      from: { path: '^src/', pathNot: [either(layers.flat()), tests] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
