// Median ms per KD training step (0.9·kd(T=4) + 0.1·ce against fixed teacher logits, kdkit's
// fused Adam 1e-3) of a BERT-style encoder classifier, kdkit's `{type: transformer}` against the
// same shape in PyTorch (bench/torch_text_step.py): 4 layers, d 256, 4 heads, feed-forward 1024,
// dropout 0.1, [CLS] pooler, 77 classes; batch 64 of 32 tokens from a vocabulary of 8,000, rows
// padded to random lengths. PyTorch at the best of its thread settings. Ratio = PyTorch / kdkit,
// the median of `rounds` rounds of both sides (this machine's speed drifts within minutes).
// Run: npx tsc -p . && node bench/text-step.js [measuredSteps [rounds]]
import { fileURLToPath } from 'node:url';
import { buildModel, initEngine, methods, tf } from '../dist/index.js';
import { makeOptimizer } from '../dist/train/optimizer.js';
import { fastest, settingLabel, torchRuns } from './torch-runs.js';

const [batchSize, sequence, vocabulary, classes] = [64, 32, 8000, 77];
const spec = { type: 'transformer', layers: 4, hidden: 256, heads: 4, intermediate: 1024, pooling: 'cls', dropout: 0.1 };
const warmupSteps = 3;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** kdkit's KD step on the transformer: `step()` and `dispose()`. */
function textKdStep(model) {
  const kdTerm = methods.get('kd').build({ temperature: 4 });
  const ceTerm = methods.get('ce').build({});
  const variables = model.trainableWeights.map((weight) => weight.read());
  const optimizer = makeOptimizer({ type: 'adam', learningRate: 1e-3, momentum: 0 });
  const inputIds = tf.randomUniform([batchSize, sequence], 0, vocabulary, 'int32');
  const lengths = tf.randomUniform([batchSize, 1], 8, sequence + 1, 'int32');
  const attentionMask = tf.cast(tf.less(tf.reshape(tf.range(0, sequence, 1, 'int32'), [1, sequence]), lengths), 'int32');
  const tokenTypeIds = tf.zeros([batchSize, sequence], 'int32');
  const labels = tf.randomUniform([batchSize], 0, classes, 'int32');
  const teacherLogits = tf.mul(tf.randomNormal([batchSize, classes]), 4);
  const inputs = [inputIds, attentionMask, tokenTypeIds];
  return {
    step() {
      const { value, grads } = tf.variableGrads(() => {
        const terms = { studentLogits: model.apply(inputs, { training: true }), teacherLogits, labels };
        return tf.add(tf.mul(kdTerm(terms), 0.9), tf.mul(ceTerm(terms), 0.1));
      }, variables);
      value.dataSync();
      optimizer.step(
        variables,
        variables.map((variable) => grads[variable.name]),
      );
      tf.dispose([value, grads]);
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([...inputs, lengths, labels, teacherLogits]);
    },
  };
}

async function kdkitStepMs(measuredSteps) {
  const engine = await initEngine();
  const fields = [
    { name: 'input_ids', dtype: 'int32', shape: [sequence], vocabulary },
    { name: 'attention_mask', dtype: 'int32', shape: [sequence], vocabulary: 2 },
    { name: 'token_type_ids', dtype: 'int32', shape: [sequence], vocabulary: 2 },
  ];
  const model = buildModel(spec, { inputs: fields, numClasses: classes, seed: 1, name: 'bench' });
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
