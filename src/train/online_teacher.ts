/**
 * 'Online' soft labels: the teacher runs on every training batch as the student sees it, after
 * augmentation, in inference mode, inside the step, as the PyTorch codebases do (RepDistiller's
 * train_distill: `with torch.no_grad(): feat_t, logit_t = model_t(input, is_feat=True)`).
 * A TensorFlow.js teacher runs on the batch's tensors directly, with its tapped layers as extra
 * outputs; any other Teacher (ONNX, remote) gets the batch's host arrays.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { forward } from '../models/forward.js';
import { modelInputs } from '../models/inputs.js';
import { tappedModel } from '../models/taps.js';
import type { SampleBatch } from '../data/dataset.js';
import type { OnlineOutputs, OnlineStore } from '../teachers/online_store.js';
import type { Teacher } from '../teachers/teacher.js';
import type { OnlineTeacher } from './loop.js';

/**
 * `store`, for a teacher that takes host arrays (ONNX, remote): keeps its outputs for each batch
 * by content (teachers/online_store.ts), so runs that show it the same batches run it once.
 */
export function onlineTeacher(
  source: { teacher: Teacher; model: tf.LayersModel | null },
  taps: readonly { name: string; shape: number[] }[],
  classes: number,
  store: OnlineStore | null = null,
): OnlineTeacher {
  const names = taps.map(({ name }) => name);
  if (source.model) {
    const tapped = names.length > 0 ? tappedModel(source.model, names, (name) => `teacher tap ${name}`) : null;
    const model = tapped?.model ?? source.model;
    return async (_samples, _count, inputs) =>
      tf.tidy(() => {
        const outputs = forward(model, modelInputs(model, inputs));
        const all = Array.isArray(outputs) ? outputs : [outputs];
        // Two taps of one tensor get their own copies, since the loop disposes each.
        const features = Object.fromEntries(names.map((name) => [name, tf.clone(all[tapped!.outputs[name]])]));
        return { logits: all[0] as tf.Tensor2D, features };
      });
  }
  const { teacher } = source;
  const run = async (samples: SampleBatch, count: number): Promise<OnlineOutputs> => {
    // One forward pass for the logits and the taps where the teacher can do both at once.
    const outputs =
      names.length === 0
        ? { logits: await teacher.logits(samples, count), features: {} as Record<string, Float32Array> }
        : teacher.logitsAndFeatures
          ? await teacher.logitsAndFeatures(samples, count, names)
          : { logits: await teacher.logits(samples, count), features: await teacher.features(samples, count, names) };
    if (outputs.logits.length !== count * classes)
      throw new InputError(
        `${teacher.info.description}: ${outputs.logits.length / count} logits a sample, the student has ${classes} classes`,
      );
    return outputs;
  };
  return async (samples, count) => {
    const { logits, features: values } = store ? await store.outputs(samples, count, () => run(samples, count)) : await run(samples, count);
    return {
      logits: tf.tensor2d(logits, [count, classes]),
      features: Object.fromEntries(taps.map(({ name, shape }) => [name, tf.tensor(values[name], [count, ...shape])])),
    };
  };
}
