/**
 * Batch norm in training mode: its four passes over channels-last activations, seen as
 * [rows, channels], in WebAssembly SIMD. The per-channel arithmetic between them runs in
 * JavaScript (../../kernels/batch_norm.ts). Pointers are byte offsets into the wasm backend's heap;
 * per-channel arrays hold `channels` values (f32, or f64 for the sums).
 *
 * The sums run down a block of rows in f32x4 registers, then go into f64 totals: each f32 partial
 * sums at most `maxBlockRows` values, and the totals lose nothing to the number of rows. The block
 * stays in L1 cache while each group of four channels reads it.
 */

const maxBlockRows: usize = 32;
const blockBytes: usize = 16384;

function blockRows(rowBytes: usize): i32 {
  return <i32>min(maxBlockRows, max(<usize>1, blockBytes / rowBytes));
}

/** Adds the four f32 lanes of `partial` to the four f64 values at `at`. */
function addToTotals(at: usize, partial: v128): void {
  v128.store(at, f64x2.add(v128.load(at), f64x2.promote_low_f32x4(partial)));
  const high = i32x4.shuffle(partial, partial, 2, 3, 0, 1);
  v128.store(at + 16, f64x2.add(v128.load(at + 16), f64x2.promote_low_f32x4(high)));
}

/** sums += Σ_rows (x − shift), squares += Σ_rows (x − shift)², per channel. */
export function batchNormMoments(x: usize, shift: usize, sums: usize, squares: usize, rows: i32, channels: i32): void {
  const rowBytes = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  const block = blockRows(rowBytes);
  for (let first = 0; first < rows; first += block) {
    const last = min(rows, first + block);
    const start = x + <usize>first * rowBytes;
    for (let lane: usize = 0; lane < vectorEnd; lane += 16) {
      const center = v128.load(shift + lane);
      let sum = f32x4.splat(0);
      let square = f32x4.splat(0);
      for (let row = first, at = start + lane; row < last; row++, at += rowBytes) {
        const d = f32x4.sub(v128.load(at), center);
        sum = f32x4.add(sum, d);
        square = f32x4.add(square, f32x4.mul(d, d));
      }
      addToTotals(sums + (lane << 1), sum);
      addToTotals(squares + (lane << 1), square);
    }
    for (let lane = vectorEnd; lane < rowBytes; lane += 4) {
      const center = <f64>load<f32>(shift + lane);
      let sum: f64 = 0;
      let square: f64 = 0;
      for (let row = first, at = start + lane; row < last; row++, at += rowBytes) {
        const d = <f64>load<f32>(at) - center;
        sum += d;
        square += d * d;
      }
      store<f64>(sums + (lane << 1), load<f64>(sums + (lane << 1)) + sum);
      store<f64>(squares + (lane << 1), load<f64>(squares + (lane << 1)) + square);
    }
  }
}

/** y = (x − mean) · scale + offset, per channel. */
export function batchNormNormalize(x: usize, y: usize, mean: usize, scale: usize, offset: usize, rows: i32, channels: i32): void {
  const rowBytes = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  for (let row = 0, at: usize = 0; row < rows; row++, at += rowBytes) {
    let lane: usize = 0;
    for (; lane < vectorEnd; lane += 16) {
      const centered = f32x4.sub(v128.load(x + at + lane), v128.load(mean + lane));
      v128.store(y + at + lane, f32x4.add(f32x4.mul(centered, v128.load(scale + lane)), v128.load(offset + lane)));
    }
    for (; lane < rowBytes; lane += 4) {
      const centered = load<f32>(x + at + lane) - load<f32>(mean + lane);
      store<f32>(y + at + lane, centered * load<f32>(scale + lane) + load<f32>(offset + lane));
    }
  }
}

/**
 * sums += Σ_rows dy, products += Σ_rows dy · (x − mean), centered += Σ_rows (x − mean), per channel
 * (`mean` is the float32 mean; the caller corrects for its rounding with `centered`).
 */
export function batchNormGradientSums(
  dy: usize,
  x: usize,
  mean: usize,
  sums: usize,
  products: usize,
  centered: usize,
  rows: i32,
  channels: i32,
): void {
  const rowBytes = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  const block = blockRows(rowBytes);
  for (let first = 0; first < rows; first += block) {
    const last = min(rows, first + block);
    const start = <usize>first * rowBytes;
    for (let lane: usize = 0; lane < vectorEnd; lane += 16) {
      const center = v128.load(mean + lane);
      let sum = f32x4.splat(0);
      let product = f32x4.splat(0);
      let offCenter = f32x4.splat(0);
      for (let row = first, at = start + lane; row < last; row++, at += rowBytes) {
        const g = v128.load(dy + at);
        const d = f32x4.sub(v128.load(x + at), center);
        sum = f32x4.add(sum, g);
        product = f32x4.add(product, f32x4.mul(g, d));
        offCenter = f32x4.add(offCenter, d);
      }
      addToTotals(sums + (lane << 1), sum);
      addToTotals(products + (lane << 1), product);
      addToTotals(centered + (lane << 1), offCenter);
    }
    for (let lane = vectorEnd; lane < rowBytes; lane += 4) {
      const center = <f64>load<f32>(mean + lane);
      let sum: f64 = 0;
      let product: f64 = 0;
      let offCenter: f64 = 0;
      for (let row = first, at = start + lane; row < last; row++, at += rowBytes) {
        const g = <f64>load<f32>(dy + at);
        const d = <f64>load<f32>(x + at) - center;
        sum += g;
        product += g * d;
        offCenter += d;
      }
      store<f64>(sums + (lane << 1), load<f64>(sums + (lane << 1)) + sum);
      store<f64>(products + (lane << 1), load<f64>(products + (lane << 1)) + product);
      store<f64>(centered + (lane << 1), load<f64>(centered + (lane << 1)) + offCenter);
    }
  }
}

/** dx = dy · a + (x − mean) · b + c, per channel. */
export function batchNormGradientApply(
  dy: usize,
  x: usize,
  dx: usize,
  mean: usize,
  a: usize,
  b: usize,
  c: usize,
  rows: i32,
  channels: i32,
): void {
  const rowBytes = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  for (let row = 0, at: usize = 0; row < rows; row++, at += rowBytes) {
    let lane: usize = 0;
    for (; lane < vectorEnd; lane += 16) {
      const centered = f32x4.sub(v128.load(x + at + lane), v128.load(mean + lane));
      const scaled = f32x4.add(f32x4.mul(v128.load(dy + at + lane), v128.load(a + lane)), f32x4.mul(centered, v128.load(b + lane)));
      v128.store(dx + at + lane, f32x4.add(scaled, v128.load(c + lane)));
    }
    for (; lane < rowBytes; lane += 4) {
      const centered = load<f32>(x + at + lane) - load<f32>(mean + lane);
      store<f32>(dx + at + lane, load<f32>(dy + at + lane) * load<f32>(a + lane) + centered * load<f32>(b + lane) + load<f32>(c + lane));
    }
  }
}
