/**
 * The reader thread of a streamed dataset (streamed.ts): reads the batch the trainer will ask for
 * next while the current step computes, as PyTorch's DataLoader workers do. It owns its own file
 * descriptors. Protocol, one request at a time:
 *   main → thread: { indices: Int32Array, pixels: SharedArrayBuffer, state: SharedArrayBuffer }
 *   thread: reads the samples into `pixels` (Float32), then sets Int32 state[0] to DONE, or to
 *   FAILED after posting { error } on the `errors` port (read with receiveMessageOnPort); and notifies.
 * The main thread waits with Atomics.wait, so no event-loop turn is needed to receive a batch.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { FilePixels, READ_DONE, READ_FAILED, type PixelEncoding, type PixelFile } from './streamed.js';

interface Request {
  indices: Int32Array;
  pixels: SharedArrayBuffer;
  state: SharedArrayBuffer;
}

const { files, encoding, errors } = workerData as { files: PixelFile[]; encoding: PixelEncoding; errors: MessagePort };
const source = new FilePixels(files, encoding, { readerThread: false });

parentPort!.on('message', (request: Request) => {
  const state = new Int32Array(request.state);
  try {
    source.readPixels(request.indices, new Float32Array(request.pixels));
    Atomics.store(state, 0, READ_DONE);
  } catch (error) {
    errors.postMessage({ error: { name: (error as Error).name, message: (error as Error).message } });
    Atomics.store(state, 0, READ_FAILED);
  }
  Atomics.notify(state, 0);
});
