// Soft-label generation against training, for the Fashion-MNIST demo teacher (CNN 32-64, dense
// 256, dropout 0.3): images per second when predicting logits over the 55,000 training images
// (batch 256, as the pipeline does), and when training on them as the teacher trains
// (cross-entropy, Adam 1e-3, batch 128), timed over the first `trainSteps` steps.
// Run: npx tsc -p . && node bench/teacher-inference.js   (needs dataset-fashion-mnist)
import { initEngine, loadDataset, buildModel, distill, predictLogits, tf } from '../dist/index.js';
import { subset } from '../dist/data/index.js';

/** The first `count` samples of a dataset. */
const head = (dataset, count) =>
  subset(
    dataset,
    Int32Array.from({ length: count }, (_, i) => i),
  );

export async function teacherInferenceBench({ trainSteps = 60 } = {}) {
  const engine = await initEngine({ backend: 'wasm' });
  const data = loadDataset({ name: 'fashion-mnist', validation: 5000 }, 1);
  const spec = { type: 'cnn', filters: [32, 64], kernelSize: 3, dense: [256], dropout: 0.3, activation: 'relu' };
  const model = buildModel(spec, { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'teacher' });

  const count = data.train.labels.length;
  predictLogits(model, head(data.train, 512));
  let started = performance.now();
  predictLogits(model, data.train);
  const inferenceSeconds = (performance.now() - started) / 1000;

  const images = trainSteps * 128;
  const trainPart = head(data.train, images);
  const options = {
    student: model,
    train: trainPart,
    terms: [{ method: 'ce', weight: 1 }],
    epochs: 1,
    batchSize: 128,
    optimizer: { type: 'adam', learningRate: 1e-3 },
    seed: 1,
  };
  await distill({ ...options, train: head(trainPart, 5 * 128) });
  started = performance.now();
  await distill(options);
  const trainSeconds = (performance.now() - started) / 1000;
  model.dispose();
  const inferenceRate = count / inferenceSeconds;
  const trainRate = images / trainSeconds;
  return {
    engine,
    images: count,
    inferenceSeconds,
    inferenceImagesPerSecond: inferenceRate,
    trainImagesPerSecond: trainRate,
    ratio: inferenceRate / trainRate,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await teacherInferenceBench();
  console.log(
    `soft labels for ${result.images} images: ${result.inferenceSeconds.toFixed(2)} s, ${result.inferenceImagesPerSecond.toFixed(0)} images/s`,
  );
  console.log(`training: ${result.trainImagesPerSecond.toFixed(0)} images/s; inference / training = ${result.ratio.toFixed(1)}`);
  tf.disposeVariables();
}
