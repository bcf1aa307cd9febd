/**
 * What a text student costs per query where it is deployed: one text tokenized (the run's
 * tokenizer, truncated to the model's length, not padded: a single query has nothing to pad to)
 * and run at batch 1 in onnxruntime-node, timed together. The texts cycle through the test split,
 * so the time is that of real queries' lengths.
 */
import * as ort from 'onnxruntime-node';
import type { TextTokenizer } from '../data/text/tokenizer.js';
import { timeCallsAsync, type LatencyOptions, type LatencyStats } from '../eval/latency.js';
import { OnnxSession } from './onnx_run.js';

export async function measureQueryLatency(
  bytes: Uint8Array,
  text: { tokenizer: TextTokenizer; texts: readonly string[]; maxLength: number },
  options: LatencyOptions = {},
): Promise<LatencyStats> {
  const session = await OnnxSession.create(bytes);
  const tensor = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  let next = 0;
  try {
    return await timeCallsAsync(
      async () => {
        const { ids, typeIds } = text.tokenizer.ids(text.texts[next++ % text.texts.length], text.maxLength);
        const fields: Record<string, number[]> = { input_ids: ids, attention_mask: ids.map(() => 1), token_type_ids: typeIds };
        await session.runFeeds(Object.fromEntries(session.inputNames.map((name) => [name, tensor(fields[name] ?? [])])));
      },
      1,
      options,
    );
  } finally {
    await session.release();
  }
}
