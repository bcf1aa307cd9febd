// Forward-pass latency of the Fashion-MNIST demo's teacher (CNN 32-64-256) and student
// (MLP 256-256) where a kdkit model is deployed: TensorFlow.js (kdkit's engine), the exported ONNX
// file in onnxruntime-node (float32 and uint8 weights), and PyTorch eager under no_grad at its best
// thread setting, all with one timing plan (eval/latency.ts). Weights are untrained: latency does
// not depend on them. Prints p50/p95 at batch 1 and 256 and the ratios PyTorch / kdkit.
// Run: npm run bench:inference
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildModel, exportOnnx, initEngine, measureLatency } from '../dist/index.js';
import { measureOnnxLatency } from '../dist/export/onnx_run.js';

const engine = await initEngine();
const sampleShape = [28, 28, 1];
const specs = {
  teacher: { type: 'cnn', filters: [32, 64], kernelSize: 3, dense: [256], dropout: 0.3, batchNorm: false },
  student: { type: 'mlp', hidden: [256, 256], dropout: 0, activation: 'relu' },
};

const torchScript = fileURLToPath(new URL('./torch_inference.py', import.meta.url));
const torchRuns = [];
for (const threads of [1, 2]) {
  const run = spawnSync('/usr/bin/python3', [torchScript, String(threads)], { encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`PyTorch reference failed (needs /usr/bin/python3 with python3-torch): ${run.stderr.trim().split('\n').at(-1)}`);
  torchRuns.push(JSON.parse(run.stdout));
}

const ms = (value) => value.toFixed(3).padStart(8);
console.log(`engine: ${JSON.stringify(engine)}; PyTorch ${torchRuns[0].torch}, best of 1 and 2 threads per row\n`);
console.log(
  `${'model'.padEnd(8)} ${'batch'.padStart(5)}  ${'runtime'.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}  PyTorch p50 / this p50`,
);
const rows = [];
for (const [name, spec] of Object.entries(specs)) {
  const model = buildModel(spec, { inputShape: sampleShape, numClasses: 10, seed: 1, name });
  const onnx = { float32: exportOnnx(model), uint8: exportOnnx(model, { quantize: 'uint8' }) };
  for (const batch of [1, 256]) {
    const torchBest = Math.min(...torchRuns.map((run) => run[name][`batch${batch}`].p50Ms));
    const torchRun = torchRuns.find((run) => run[name][`batch${batch}`].p50Ms === torchBest);
    const measured = [
      ['kdkit TensorFlow.js', measureLatency(model, [{ name: 'image', dtype: 'float32', shape: sampleShape }], batch)],
      [
        'ONNX Runtime, float32 .onnx',
        await measureOnnxLatency(onnx.float32, [{ name: 'image', dtype: 'float32', shape: sampleShape }], batch),
      ],
      ['ONNX Runtime, uint8 .onnx', await measureOnnxLatency(onnx.uint8, [{ name: 'image', dtype: 'float32', shape: sampleShape }], batch)],
      [`PyTorch eager, ${torchRun.threads} thread(s)`, torchRun[name][`batch${batch}`]],
    ];
    for (const [runtime, stats] of measured) {
      const ratio = torchBest / stats.p50Ms;
      console.log(
        `${name.padEnd(8)} ${String(batch).padStart(5)}  ${runtime.padEnd(28)} ${ms(stats.p50Ms)} ${ms(stats.p95Ms)}  ${ratio.toFixed(2)}`,
      );
      rows.push({ model: name, batch, runtime, p50Ms: stats.p50Ms, p95Ms: stats.p95Ms, pytorchOverThis: ratio });
    }
  }
  model.dispose();
}
