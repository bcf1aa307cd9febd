// Median ms per KD training step (0.9·kd(T=4) + 0.1·ce against fixed teacher logits, kdkit's
// fused Adam 1e-3) of a BERT-style encoder classifier, kdkit's `{type: transformer}` against the
// same shape in PyTorch (bench/torch_text_step.py): 4 layers, d 256, 4 heads, feed-forward 1024,
// dropout 0.1, [CLS] pooler, 77 classes; batch 64 of 32 tokens from a vocabulary of 8,000, rows
// padded to random lengths. PyTorch at the best of its thread settings. Ratio = PyTorch / kdkit,
// the median of `rounds` rounds of both sides (this machine's speed drifts within minutes).
// Run: npx tsc -p . && node bench/text-step.js [measuredSteps [rounds]]
import { fileURLToPath } from 'node:url';
import { initEngine } from '../dist/index.js';
import { textKdStep, textModel } from './text-step-model.js';
import { fastest, settingLabel, torchRuns } from './torch-runs.js';

const warmupSteps = 3;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function kdkitStepMs(measuredSteps) {
  const engine = await initEngine();
  const model = textModel();
  const { step, dispose } = textKdStep(model);
  const times = [];
  for (let i = 0; i < warmupSteps + measuredSteps; i++) {
    const start = performance.now();
    step();
    if (i >= warmupSteps) times.push(performance.now() - start);
  }
  dispose();
  const params = model.countParams();
  model.dispose();
  return { engine, ms: median(times), params };
}

const measuredSteps = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 3);
const torchScript = fileURLToPath(new URL('./torch_text_step.py', import.meta.url));
const ratios = [];
let settings;
for (let round = 1; round <= rounds; round++) {
  const kdkit = await kdkitStepMs(measuredSteps);
  if (round === 1) console.log(`engine: ${JSON.stringify(kdkit.engine)}`);
  console.log(`round ${round}: kdkit transformer (${kdkit.params} parameters) step ${kdkit.ms.toFixed(1)} ms`);
  const runs = torchRuns(torchScript, (threads) => [String(measuredSteps), String(threads)], {
    required: true,
    ...(settings && { settings }),
    onRun: (run) =>
      console.log(`  PyTorch ${run.torch}, ${settingLabel(run)}: ${run.transformer.toFixed(1)} ms (${run.params} parameters)`),
  });
  const best = fastest(runs, (run) => run.transformer);
  settings = [[best.torchThreads, best.blasThreads]];
  ratios.push(best.transformer / kdkit.ms);
  console.log(`  ratio (PyTorch / kdkit) ${ratios.at(-1).toFixed(2)}`);
}
console.log(
  `transformer KD step: median ratio ${median(ratios).toFixed(2)} over ${rounds} rounds (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
);
