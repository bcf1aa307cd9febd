// Builds kdkit/browser: dist/browser/kdkit.mjs, one self-contained ES module (dist/browser.js,
// TensorFlow.js and the rest), and beside it the wasm backend's .wasm files; and
// dist/browser/layers.mjs, kdkit's text layers (dist/layers.js) importing the page's
// '@tensorflow/tfjs', which a run copies beside a text student for report.md's TensorFlow.js page.
// Run by `npm run build` after tsc. A `node:` import reaching either fails the build.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist/browser');

// util/hash.js uses node:crypto; its browser twin gives the same digests (util/hash_browser.test.ts).
const browserTwins = { [join(root, 'dist/util/hash.js')]: join(root, 'dist/util/hash_browser.js') };

// Both bundles: one minified ES module for a browser, its inputs recorded for the node: check below.
const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, metafile: true, logLevel: 'warning' };

const result = await build({
  ...common,
  entryPoints: [join(root, 'dist/browser.js')],
  outfile: join(out, 'kdkit.mjs'),
  sourcemap: true,
  legalComments: 'linked',
  plugins: [
    {
      name: 'browser-twins',
      setup(build) {
        build.onResolve({ filter: /hash\.js$/ }, (args) => {
          const path = join(args.resolveDir, args.path);
          return browserTwins[path] ? { path: browserTwins[path] } : undefined;
        });
      },
    },
  ],
});
const layers = await build({
  ...common,
  entryPoints: [join(root, 'dist/layers.js')],
  outfile: join(out, 'layers.mjs'),
  // One TensorFlow.js in the page: the layers register where the page's model loads.
  alias: { '@tensorflow/tfjs-core': '@tensorflow/tfjs', '@tensorflow/tfjs-layers': '@tensorflow/tfjs' },
  external: ['@tensorflow/tfjs'],
});
const nodeImports = [result, layers]
  .flatMap(({ metafile }) => Object.entries(metafile.inputs))
  .flatMap(([file, input]) => input.imports.filter((i) => i.path.startsWith('node:')).map((i) => `${file} imports ${i.path}`));
if (nodeImports.length > 0) throw new Error(`kdkit/browser would import Node's modules:\n${nodeImports.join('\n')}`);

const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
mkdirSync(out, { recursive: true });
for (const file of readdirSync(wasmDir).filter((name) => name.endsWith('.wasm'))) copyFileSync(join(wasmDir, file), join(out, file));
