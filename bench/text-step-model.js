// The transformer KD step of bench/text-step.js, shared with bench/profile-step.js: kdkit's
// `{type: transformer}` (4 layers, d 256, 4 heads, feed-forward 1024, dropout 0.1, [CLS] pooler,
// 77 classes) on batch 64 of 32 tokens from a vocabulary of 8,000, rows padded to random lengths;
// 0.9·kd(T=4) + 0.1·ce against fixed teacher logits, kdkit's fused Adam 1e-3.
import { buildModel, methods, tf } from '../dist/index.js';
import { makeOptimizer } from '../dist/train/optimizer.js';

export const [batchSize, sequence, vocabulary, classes] = [64, 32, 8000, 77];
export const spec = { type: 'transformer', layers: 4, hidden: 256, heads: 4, intermediate: 1024, pooling: 'cls', dropout: 0.1 };

/** kdkit's KD step on the transformer: `step()` and `dispose()`. */
export function textKdStep(model) {
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

/** The benchmark's transformer, built by kdkit from its spec. */
export function textModel() {
  const fields = [
    { name: 'input_ids', dtype: 'int32', shape: [sequence], vocabulary },
    { name: 'attention_mask', dtype: 'int32', shape: [sequence], vocabulary: 2 },
    { name: 'token_type_ids', dtype: 'int32', shape: [sequence], vocabulary: 2 },
  ];
  return buildModel(spec, { inputs: fields, numClasses: classes, seed: 1, name: 'bench' });
}
