import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { InputError } from '../errors.js';
import { initEngine, tf, withEngine, type BackendName } from './index.js';

test('initEngine defaults to wasm with SIMD and lists the kernels kdkit registered', async () => {
  const info = await initEngine();
  assert.equal(info.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(info.simd, true);
  assert.ok(info.threads >= 1);
  for (const kernelName of [
    'Conv2DBackpropFilter',
    'DepthwiseConv2dNativeBackpropFilter',
    'DepthwiseConv2dNativeBackpropInput',
    'UnsortedSegmentSum',
    'BatchMatMul',
    '_FusedMatMul',
  ]) {
    assert.ok(info.customKernels.includes(kernelName), `${kernelName} missing from ${info.customKernels}`);
  }
});

test('initEngine is idempotent and switches backends when asked', async () => {
  const first = await initEngine();
  assert.deepEqual(await initEngine({ backend: 'wasm' }), first);
  const cpu = await initEngine({ backend: 'cpu' });
  assert.deepEqual(cpu, {
    backend: 'cpu',
    simd: false,
    threads: 1,
    customKernels: [],
    accelerator: 'none',
    acceleratorThreads: 0,
    acceleratorInterface: null,
  });
  assert.equal(tf.getBackend(), 'cpu');
  assert.deepEqual(await initEngine(), first);
  assert.equal(tf.getBackend(), 'wasm');
});

test('initEngine rejects an unknown backend with an InputError naming the choices', async () => {
  await assert.rejects(initEngine({ backend: 'webgl' as BackendName }), (error: unknown) => {
    assert.ok(error instanceof InputError);
    assert.match(error.message, /"webgl".*wasm, cpu/);
    return true;
  });
});

test('initEngine accelerates with ONNX Runtime, through its C API, on all cores unless told otherwise', async () => {
  const accelerated = await initEngine();
  assert.equal(accelerated.accelerator, 'onnxruntime');
  assert.equal(accelerated.acceleratorInterface, 'c-api');
  assert.equal(accelerated.acceleratorThreads, availableParallelism());
  const oneThread = await initEngine({ acceleratorThreads: 1 });
  assert.equal(oneThread.acceleratorThreads, 1);
  const plain = await initEngine({ accelerate: 'none' });
  assert.equal(plain.accelerator, 'none');
  assert.equal(plain.acceleratorThreads, 0);
  assert.equal(plain.acceleratorInterface, null);
  assert.deepEqual(plain.customKernels, accelerated.customKernels);
  assert.deepEqual(await initEngine(), accelerated);
});

test('initEngine rejects an unknown accelerator or a bad thread count with an InputError', async () => {
  await assert.rejects(initEngine({ accelerate: 'cuda' as 'ort' }), (error: unknown) => {
    assert.ok(error instanceof InputError);
    assert.match(error.message, /"cuda".*ort, none/);
    return true;
  });
  for (const threads of [0, 1.5]) {
    await assert.rejects(initEngine({ acceleratorThreads: threads }), (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /acceleratorThreads must be a positive integer/);
      return true;
    });
  }
});

test('runs on one engine setup share it; switching it while they run is an InputError, and allowed once they end', async () => {
  const setup = { backend: 'wasm', acceleratorThreads: 2 } as const;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const seen: string[] = [];
  const first = withEngine(setup, async () => {
    await released;
    seen.push(tf.getBackend());
  });
  const second = withEngine(setup, async (engine) => {
    await released;
    seen.push(engine.backend);
  });
  const refused = (switchedTo: string) => (error: unknown) =>
    error instanceof InputError &&
    error.message ===
      `kdkit engine: 2 runs in progress compute on wasm with ONNX Runtime on 2 threads; switching to ${switchedTo} now would change their results. Run them on the same engine, or one after the other.`;
  await assert.rejects(
    withEngine({ backend: 'cpu' }, async () => {}),
    refused('cpu'),
  );
  await assert.rejects(initEngine({ accelerate: 'none' }), refused('wasm'));
  await assert.rejects(initEngine({ acceleratorThreads: 3 }), refused('wasm with ONNX Runtime on 3 threads'));
  assert.equal((await initEngine(setup)).backend, 'wasm');
  release();
  await Promise.all([first, second]);
  assert.deepEqual(seen, ['wasm', 'wasm']);
  assert.equal((await initEngine({ backend: 'cpu' })).backend, 'cpu');
  await initEngine();
});

test('a run that fails lets go of the engine', async () => {
  await assert.rejects(
    withEngine({ backend: 'wasm' }, async () => {
      throw new Error('the run failed');
    }),
    /the run failed/,
  );
  assert.equal((await initEngine({ backend: 'cpu' })).backend, 'cpu');
  await initEngine();
});

test("the cpu backend does not print TensorFlow.js's advice to install its node backend", () => {
  const engine = new URL('./index.js', import.meta.url).href;
  const tensors = new URL('./tf.js', import.meta.url).href;
  const script = `const { initEngine } = await import('${engine}'); await initEngine({ backend: 'cpu' });
    const tf = await import('${tensors}'); tf.tensor([1, 2]).dispose(); console.log('ran');`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /ran/);
  assert.doesNotMatch(child.stdout + child.stderr, /looks like you are running TensorFlow\.js in Node\.js/);
});
