/**
 * The same distillation on the digits split, once in Node and once per backend in a Chromium page
 * through the bundle (dist/browser/kdkit.mjs): what src/browser.test.ts asserts on and
 * bench/browser-distill.js reports. The teacher trains in Node; its logits teach both students.
 */
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { initEngine } from './engine/index.js';
import { allPixels, type Dataset } from './data/dataset.js';
import { loadDigits } from './data/digits.js';
import { splitValidation } from './data/split.js';
import { buildModel } from './models/build.js';
import { accuracy, predictLogits } from './models/predict.js';
import type { ModelSpec } from './config/schema.js';
import { distill } from './train/distill.js';
import { serveDirectories } from './browser_page.test.util.js';

export interface DigitsSetup {
  teacher: { model: ModelSpec; epochs: number; batchSize: number };
  student: { model: ModelSpec; epochs: number; batchSize: number };
  seed: number;
}

/** The digits demo's setup (config/demo.ts): a CNN teacher, an MLP [128] student, 0.9 · kd (T = 4) + 0.1 · ce. */
export const demoSetup: DigitsSetup = {
  teacher: { model: { type: 'cnn', filters: [32, 64], dense: [128], dropout: 0.3 } as ModelSpec, epochs: 40, batchSize: 64 },
  student: { model: { type: 'mlp', hidden: [128] } as ModelSpec, epochs: 100, batchSize: 32 },
  seed: 1,
};

export interface Outcome {
  /** 'node' or the page's backend. */
  where: string;
  /** Test accuracy, 0–1. */
  accuracy: number;
  /** Wall time of the student's distill() call. */
  seconds: number;
  testLogits: Float32Array;
  /** The page's exportOnnx(student) bytes; absent for Node. */
  onnx?: Uint8Array;
}

export interface DigitsData {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  teacherLogits: Float32Array;
  teacherAccuracy: number;
}

/** Digits split as a run splits it (144 validation samples by the seed), and the teacher's logits on train. */
export async function digitsWithTeacher(setup: DigitsSetup): Promise<DigitsData> {
  await initEngine({ backend: 'wasm' });
  const parts = loadDigits();
  const { train, validation } = splitValidation(parts.train, Math.round(parts.train.labels.length / 10), setup.seed);
  const teacher = buildModel(setup.teacher.model, { inputShape: [8, 8, 1], numClasses: 10, seed: setup.seed, name: 'teacher' });
  await distill({
    student: teacher,
    train,
    validation,
    epochs: setup.teacher.epochs,
    batchSize: setup.teacher.batchSize,
    seed: setup.seed,
  });
  const teacherLogits = predictLogits(teacher, train);
  const teacherAccuracy = accuracy(predictLogits(teacher, parts.test), parts.test.labels);
  teacher.dispose();
  return { train, validation, test: parts.test, teacherLogits, teacherAccuracy };
}

/** The student distilled in Node (wasm backend, as `kdkit run`). */
export async function distilInNode(setup: DigitsSetup, data: DigitsData): Promise<Outcome> {
  await initEngine({ backend: 'wasm' });
  const student = buildModel(setup.student.model, { inputShape: [8, 8, 1], numClasses: 10, seed: setup.seed + 1, name: 'student' });
  const start = performance.now();
  await distill({
    teacher: { logits: data.teacherLogits },
    student,
    train: data.train,
    validation: data.validation,
    epochs: setup.student.epochs,
    batchSize: setup.student.batchSize,
    seed: setup.seed,
  });
  const seconds = (performance.now() - start) / 1000;
  const testLogits = predictLogits(student, data.test);
  student.dispose();
  return { where: 'node', accuracy: accuracy(testLogits, data.test.labels), seconds, testLogits };
}

interface PagePart {
  images: number[];
  labels: number[];
}

/** The same student distilled in a page on each of `backends`, by the bundle. */
export async function distilInPages(
  browser: Browser,
  setup: DigitsSetup,
  data: DigitsData,
  backends: readonly string[],
): Promise<Outcome[]> {
  const site = mkdtempSync(join(tmpdir(), 'kdkit-browser-'));
  writeFileSync(
    join(site, 'index.html'),
    '<!doctype html><script type="module">import * as kdkit from \'/kdkit/kdkit.mjs\'; window.kdkit = kdkit;</script>',
  );
  const { origin: address, server } = await serveDirectories({ '/kdkit/': new URL('./browser/', import.meta.url).pathname, '/': site });
  const part = (dataset: Dataset): PagePart => ({ images: Array.from(allPixels(dataset)), labels: Array.from(dataset.labels) });
  const payload = {
    setup,
    train: part(data.train),
    validation: part(data.validation),
    test: part(data.test),
    teacherLogits: Array.from(data.teacherLogits),
  };
  const outcomes: Outcome[] = [];
  try {
    for (const backend of backends) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${address}/`);
      await page.waitForFunction(() => 'kdkit' in window);
      const result = await page.evaluate(
        async ([backend, input]) => {
          // biome-ignore lint/suspicious/noExplicitAny: the bundle's namespace, untyped in the page
          const kd = (window as any).kdkit;
          await kd.initBrowserEngine({ backend });
          const dataset = (name: string, part: PagePart) =>
            kd.imageDataset({
              name,
              images: Float32Array.from(part.images),
              labels: Int32Array.from(part.labels),
              sampleShape: [8, 8, 1],
              numClasses: 10,
            });
          // The training images as a tensor made on the device (× 1 by a kernel), as a page's own
          // preprocessing leaves them: distill() must read them back asynchronously.
          const { tf } = kd;
          const images = tf.tensor4d(Float32Array.from(input.train.images), [input.train.labels.length, 8, 8, 1]);
          const train = { x: tf.mul(images, 1), y: tf.tensor1d(input.train.labels, 'int32') };
          images.dispose();
          const test = dataset('digits/test', input.test);
          const { student: spec, seed } = input.setup;
          const student = kd.buildModel(spec.model, { inputShape: [8, 8, 1], numClasses: 10, seed: seed + 1, name: 'student' });
          const start = performance.now();
          await kd.distill({
            teacher: { logits: Float32Array.from(input.teacherLogits) },
            student,
            train,
            validation: dataset('digits/validation', input.validation),
            epochs: spec.epochs,
            batchSize: spec.batchSize,
            seed,
          });
          const seconds = (performance.now() - start) / 1000;
          const testLogits: Float32Array = await kd.predictLogitsAsync(student, test);
          const onnx: Uint8Array = await kd.exportOnnxAsync(student);
          return { seconds, testLogits: Array.from(testLogits), onnx: Array.from(onnx), backend: kd.tf.getBackend() as string };
        },
        [backend, payload] as const,
      );
      await page.close();
      if (errors.length > 0) throw new Error(`page errors on ${backend}: ${errors.join('; ')}`);
      if (result.backend !== backend) throw new Error(`the page ran on ${result.backend}, not ${backend}`);
      const testLogits = Float32Array.from(result.testLogits);
      outcomes.push({
        where: backend,
        accuracy: accuracy(testLogits, data.test.labels),
        seconds: result.seconds,
        testLogits,
        onnx: Uint8Array.from(result.onnx),
      });
    }
  } finally {
    server.close();
  }
  return outcomes;
}
