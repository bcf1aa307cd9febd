// A soft-label build in its own process, for the kill -9 test: node store.test.child.js ROOT SAMPLES SHARD_SIZE DELAY_MS.
// Prints "shard N" after each shard lands, so the test knows when to kill it.
import { softLabelsFromStore } from './store.js';
import { fakeDataset, fakeTeacher } from './store.test.util.js';

const [root, samples, shardSize, delayMs] = process.argv.slice(2);
await softLabelsFromStore(
  fakeTeacher({ classes: 5, batchSize: 4, delayMs: Number(delayMs) }),
  fakeDataset(Number(samples), 5),
  { root, shardSize: Number(shardSize) },
  (event) => {
    process.stdout.write(`shard ${event.shard}\n`);
  },
);
