/**
 * Shared pieces of the fuzz suites: mutations of a valid seed input (bytes or a JSON-like value),
 * as fast-check arbitraries so a failure shrinks to a small, printable list of edits, and the
 * property every parser must hold: succeed, or throw an InputError, quickly and without a large
 * allocation. Each suite counts the inputs it tried and prints the count as a test diagnostic.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../errors.js';

/** Fixed, so a failure in CI reproduces locally; change it only to explore new inputs. */
export const FUZZ_SEED = 20240607;

/** Header fields get these: the edges of the integer types a header holds, and 2^53. */
const EXTREME_UINT32 = [0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff] as const;

/** One edit of a byte string. Offsets are taken modulo the input length, so any nat fits any input. */
export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; offset: number; bit: number }
  | { kind: 'setByte'; offset: number; value: number }
  | { kind: 'setUint32'; offset: number; value: number; littleEndian: boolean }
  | { kind: 'insert'; offset: number; bytes: Uint8Array }
  | { kind: 'remove'; offset: number; length: number }
  | { kind: 'duplicate'; offset: number; length: number; times: number };

const offset = fc.nat({ max: 1 << 20 });

/**
 * 1 to 4 edits; `fieldOffsets` are where a format's header fields sit, so overwrites hit them often.
 * A duplicated slice is at most `maxSliceBytes` long, repeated up to 64 times.
 */
export function byteMutations(fieldOffsets: readonly number[] = [], maxSliceBytes = 4096): fc.Arbitrary<ByteMutation[]> {
  const fieldOffset = fieldOffsets.length > 0 ? fc.oneof(fc.constantFrom(...fieldOffsets), offset) : offset;
  const mutation: fc.Arbitrary<ByteMutation> = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: offset }),
    fc.record({ kind: fc.constant('flip' as const), offset, bit: fc.nat({ max: 7 }) }),
    fc.record({
      kind: fc.constant('setByte' as const),
      offset: fieldOffset,
      value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.nat({ max: 255 })),
    }),
    fc.record({
      kind: fc.constant('setUint32' as const),
      offset: fieldOffset,
      value: fc.oneof(fc.constantFrom(...EXTREME_UINT32), fc.nat({ max: 0xffffffff })),
      littleEndian: fc.boolean(),
    }),
    fc.record({ kind: fc.constant('insert' as const), offset, bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({ kind: fc.constant('remove' as const), offset, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({
      kind: fc.constant('duplicate' as const),
      offset,
      length: fc.integer({ min: 1, max: maxSliceBytes }),
      times: fc.integer({ min: 1, max: 64 }),
    }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 });
}

/** The seed with the edits applied in order; the seed itself is not changed. */
export function applyByteMutations(seed: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(seed);
  for (const mutation of mutations) bytes = applyOne(bytes, mutation);
  return bytes;
}

function applyOne(bytes: Uint8Array, mutation: ByteMutation): Uint8Array {
  const at = (position: number, room = 0) => (bytes.length > room ? position % (bytes.length - room + 1) : 0);
  switch (mutation.kind) {
    case 'truncate':
      return bytes.subarray(0, at(mutation.at));
    case 'flip':
      if (bytes.length > 0) bytes[at(mutation.offset, 1)] ^= 1 << mutation.bit;
      return bytes;
    case 'setByte':
      if (bytes.length > 0) bytes[at(mutation.offset, 1)] = mutation.value;
      return bytes;
    case 'setUint32':
      if (bytes.length >= 4)
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(
          at(mutation.offset, 4),
          mutation.value,
          mutation.littleEndian,
        );
      return bytes;
    case 'insert': {
      const cut = at(mutation.offset);
      return concat([bytes.subarray(0, cut), mutation.bytes, bytes.subarray(cut)]);
    }
    case 'remove': {
      const cut = at(mutation.offset);
      return concat([bytes.subarray(0, cut), bytes.subarray(cut + mutation.length)]);
    }
    case 'duplicate': {
      const start = at(mutation.offset);
      const slice = bytes.subarray(start, start + mutation.length);
      return concat([bytes.subarray(0, start), ...Array<Uint8Array>(mutation.times + 1).fill(slice), bytes.subarray(start + slice.length)]);
    }
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return out;
}

/** Values a hostile file puts where a number, string or path is expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    -(2 ** 53),
    1e308,
    -1e308,
    '',
    '../../etc/passwd',
    '/etc/passwd',
    '..',
    'a/../../b',
    null,
    true,
    false,
    [],
    {},
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 16 }),
  fc.array(fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e308), { maxLength: 6 }),
);

/** One edit of a JSON-like tree: the node at `target` (a preorder index, modulo the node count). */
export type ValueMutation =
  | { kind: 'replace'; target: number; value: unknown }
  | { kind: 'delete'; target: number }
  | { kind: 'addKey'; target: number; key: string; value: unknown };

export const valueMutations: fc.Arbitrary<ValueMutation[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('replace' as const), target: fc.nat(), value: hostileValue }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), target: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('addKey' as const),
        target: fc.nat(),
        key: fc.oneof(fc.constantFrom('__proto__', 'constructor'), fc.string({ maxLength: 8 })),
        value: hostileValue,
      }),
    },
  ),
  { minLength: 1, maxLength: 3 },
);

/** A deep copy of `seed` with the edits applied (the root itself is never replaced or deleted). */
export function applyValueMutations(seed: unknown, mutations: readonly ValueMutation[]): unknown {
  const root = structuredClone(seed);
  for (const mutation of mutations) {
    const slots = containerSlots(root);
    if (slots.length === 0) continue;
    const [container, key] = slots[mutation.target % slots.length];
    if (mutation.kind === 'replace') (container as Record<string | number, unknown>)[key] = structuredClone(mutation.value);
    else if (mutation.kind === 'delete') deleteSlot(container, key);
    else addKey((container as Record<string | number, unknown>)[key], mutation.key, mutation.value);
  }
  return root;
}

/** Every (parent, key) pair of the tree, in preorder. */
function containerSlots(node: unknown): [object, string | number][] {
  if (typeof node !== 'object' || node === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(node) ? node.map((value, index) => [index, value]) : Object.entries(node);
  return entries.flatMap(([key, value]) => [[node, key] as [object, string | number], ...containerSlots(value)]);
}

function deleteSlot(container: object, key: string | number): void {
  if (Array.isArray(container)) container.splice(key as number, 1);
  else delete (container as Record<string, unknown>)[key];
}

function addKey(target: unknown, key: string, value: unknown): void {
  // defineProperty, so '__proto__' becomes an own key as JSON.parse would make it.
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    Object.defineProperty(target, key, { value: structuredClone(value), enumerable: true, writable: true, configurable: true });
  }
}

/** Limits every input must stay within. */
export interface Bounds {
  /** Wall time of one parse. */
  maxMs: number;
  /** Growth of process.memoryUsage().arrayBuffers during one parse, beyond the input's own size. */
  maxExtraBytes: number;
}

export const DEFAULT_BOUNDS: Bounds = { maxMs: 2000, maxExtraBytes: 64 * 1024 * 1024 };

/**
 * Runs one parse and checks the contract: it returns, or throws an InputError whose message names
 * `source`; anything else (TypeError, RangeError, a library's own error) fails the property.
 * Returns the parsed value, or undefined when the input was refused.
 */
export async function expectParsedOrInputError<T>(
  source: string,
  inputBytes: number,
  parse: () => T | Promise<T>,
  bounds = DEFAULT_BOUNDS,
): Promise<T | undefined> {
  const before = process.memoryUsage().arrayBuffers;
  const start = performance.now();
  let result: T | undefined;
  try {
    result = await parse();
  } catch (error) {
    if (!(error instanceof InputError))
      throw new Error(`not an InputError: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
    assert.ok(error.message.includes(source), `the message does not name ${source}: ${error.message}`);
  }
  const elapsedMs = performance.now() - start;
  assert.ok(elapsedMs < bounds.maxMs, `one input took ${elapsedMs.toFixed(0)} ms`);
  const grownBytes = process.memoryUsage().arrayBuffers - before;
  assert.ok(grownBytes < bounds.maxExtraBytes + 4 * inputBytes, `one input of ${inputBytes} bytes allocated ${grownBytes} bytes`);
  return result;
}

/** fast-check options every suite uses: the fixed seed, and `numRuns` inputs. */
export function fuzzOptions<Ts>(numRuns: number): fc.Parameters<Ts> {
  return { seed: FUZZ_SEED, numRuns, includeErrorInReport: true };
}
