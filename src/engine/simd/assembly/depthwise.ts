/**
 * The two gradients of an NHWC depthwise convolution with a channel multiplier of 1, in WebAssembly
 * SIMD over channels (../../kernels/depthwise_simd.ts calls them; the forward pass is the wasm
 * backend's XNNPACK kernel, faster than a loop like these). Pointers are byte offsets into
 * the wasm backend's heap; the filter is [filterHeight, filterWidth, channels]. `Geometry` packs the
 * shapes (as i32 at `geometry`, in the order of the constants below) to keep the signatures short.
 *
 * The input gradient writes each pixel once: the addresses of the taps that reach it are listed
 * first (a bit mask per row and per column says which), then summed four channels at a time in
 * registers. The filter gradient adds one output row's products per tap in f32, then into f64
 * totals.
 */

const IMAGES = 0;
const IN_HEIGHT = 4;
const IN_WIDTH = 8;
const CHANNELS = 12;
const OUT_HEIGHT = 16;
const OUT_WIDTH = 20;
const FILTER_HEIGHT = 24;
const FILTER_WIDTH = 28;
const STRIDE_HEIGHT = 32;
const STRIDE_WIDTH = 36;
const PAD_TOP = 40;
const PAD_LEFT = 44;

/** Taps k < filterSize whose input position `start + k` lies in [0, size). */
function windowTaps(start: i32, size: i32, filterSize: i32): u32 {
  let mask: u32 = 0;
  for (let k = 0; k < filterSize; k++) if (start + k >= 0 && start + k < size) mask |= 1 << k;
  return mask;
}

/** Taps k whose output position (position + pad − k) / stride is whole and in [0, outSize). */
function inputGradTaps(position: i32, pad: i32, stride: i32, outSize: i32, filterSize: i32): u32 {
  let mask: u32 = 0;
  for (let k = 0; k < filterSize; k++) {
    const scaled = position + pad - k;
    if (scaled >= 0 && scaled % stride === 0 && scaled / stride < outSize) mask |= 1 << k;
  }
  return mask;
}

/**
 * out[c] = Σ_t a_t[c] · b_t[c] over the `count` pairs of addresses (a_t, b_t) listed at `list`
 * (u32 each), four channels at a time in registers.
 */
function sumOfProducts(list: usize, count: i32, out: usize, pixel: usize, vectorEnd: usize): void {
  const listEnd = list + ((<usize>count) << 3);
  let lane: usize = 0;
  for (; lane < vectorEnd; lane += 16) {
    let sum = f32x4.splat(0);
    for (let at = list; at < listEnd; at += 8) {
      sum = f32x4.add(sum, f32x4.mul(v128.load(<usize>load<u32>(at) + lane), v128.load(<usize>load<u32>(at + 4) + lane)));
    }
    v128.store(out + lane, sum);
  }
  for (; lane < pixel; lane += 4) {
    let sum: f32 = 0;
    for (let at = list; at < listEnd; at += 8) sum += load<f32>(<usize>load<u32>(at) + lane) * load<f32>(<usize>load<u32>(at + 4) + lane);
    store<f32>(out + lane, sum);
  }
}

/**
 * dx[n, ih, iw, c] = Σ over the taps (kh, kw) and outputs (oh, ow) that read it of
 * dy[n, oh, ow, c] · w[kh, kw, c]. `list` holds 8 bytes per tap, any contents.
 */
export function depthwiseInputGrad(dy: usize, w: usize, dx: usize, list: usize, geometry: usize): void {
  const images = load<i32>(geometry + IMAGES);
  const inHeight = load<i32>(geometry + IN_HEIGHT);
  const inWidth = load<i32>(geometry + IN_WIDTH);
  const channels = load<i32>(geometry + CHANNELS);
  const outHeight = load<i32>(geometry + OUT_HEIGHT);
  const outWidth = load<i32>(geometry + OUT_WIDTH);
  const filterHeight = load<i32>(geometry + FILTER_HEIGHT);
  const filterWidth = load<i32>(geometry + FILTER_WIDTH);
  const strideHeight = load<i32>(geometry + STRIDE_HEIGHT);
  const strideWidth = load<i32>(geometry + STRIDE_WIDTH);
  const padTop = load<i32>(geometry + PAD_TOP);
  const padLeft = load<i32>(geometry + PAD_LEFT);
  const pixel = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  let dxAt = dx;
  for (let n = 0; n < images; n++) {
    for (let ih = 0; ih < inHeight; ih++) {
      const rows = inputGradTaps(ih, padTop, strideHeight, outHeight, filterHeight);
      for (let iw = 0; iw < inWidth; iw++) {
        const columns = inputGradTaps(iw, padLeft, strideWidth, outWidth, filterWidth);
        let count = 0;
        for (let rowMask = rows; rowMask !== 0; rowMask &= rowMask - 1) {
          const kh = ctz(rowMask);
          const oh = (ih + padTop - kh) / strideHeight;
          for (let columnMask = columns; columnMask !== 0; columnMask &= columnMask - 1) {
            const kw = ctz(columnMask);
            const ow = (iw + padLeft - kw) / strideWidth;
            const at = list + ((<usize>count) << 3);
            store<u32>(at, <u32>(dy + <usize>((n * outHeight + oh) * outWidth + ow) * pixel));
            store<u32>(at + 4, <u32>(w + <usize>(kh * filterWidth + kw) * pixel));
            count++;
          }
        }
        sumOfProducts(list, count, dxAt, pixel, vectorEnd);
        dxAt += pixel;
      }
    }
  }
}

/**
 * dw[kh, kw, c] = Σ_{n, oh, ow} x[n, oh·sh − padTop + kh, ow·sw − padLeft + kw, c] · dy[n, oh, ow, c].
 * `partials` (f32) gathers one output row's products per tap, which then go into `totals` (f64):
 * [filterHeight·filterWidth·channels] each, any contents. dw is written from the totals.
 */
export function depthwiseFilterGrad(x: usize, dy: usize, dw: usize, partials: usize, totals: usize, geometry: usize): void {
  const images = load<i32>(geometry + IMAGES);
  const inHeight = load<i32>(geometry + IN_HEIGHT);
  const inWidth = load<i32>(geometry + IN_WIDTH);
  const channels = load<i32>(geometry + CHANNELS);
  const outHeight = load<i32>(geometry + OUT_HEIGHT);
  const outWidth = load<i32>(geometry + OUT_WIDTH);
  const filterHeight = load<i32>(geometry + FILTER_HEIGHT);
  const filterWidth = load<i32>(geometry + FILTER_WIDTH);
  const strideHeight = load<i32>(geometry + STRIDE_HEIGHT);
  const strideWidth = load<i32>(geometry + STRIDE_WIDTH);
  const padTop = load<i32>(geometry + PAD_TOP);
  const padLeft = load<i32>(geometry + PAD_LEFT);
  const pixel = (<usize>channels) << 2;
  const vectorEnd = (<usize>(channels & ~3)) << 2;
  const values = <usize>(filterHeight * filterWidth * channels);
  memory.fill(totals, 0, values << 3);
  let dyAt = dy;
  for (let n = 0; n < images; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      memory.fill(partials, 0, values << 2);
      const top = oh * strideHeight - padTop;
      const rows = windowTaps(top, inHeight, filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const left = ow * strideWidth - padLeft;
        const columns = windowTaps(left, inWidth, filterWidth);
        const corner = x + (<usize>(n * inHeight + top) * <usize>inWidth + <usize>left) * pixel;
        for (let rowMask = rows; rowMask !== 0; rowMask &= rowMask - 1) {
          const kh = ctz(rowMask);
          for (let columnMask = columns; columnMask !== 0; columnMask &= columnMask - 1) {
            const kw = ctz(columnMask);
            const xAt = corner + (<usize>kh * <usize>inWidth + <usize>kw) * pixel;
            const partialAt = partials + <usize>(kh * filterWidth + kw) * pixel;
            let lane: usize = 0;
            for (; lane < vectorEnd; lane += 16) {
              const product = f32x4.mul(v128.load(xAt + lane), v128.load(dyAt + lane));
              v128.store(partialAt + lane, f32x4.add(v128.load(partialAt + lane), product));
            }
            for (; lane < pixel; lane += 4) {
              store<f32>(partialAt + lane, load<f32>(partialAt + lane) + load<f32>(xAt + lane) * load<f32>(dyAt + lane));
            }
          }
        }
        dyAt += pixel;
      }
      for (let i: usize = 0; i < values; i++) {
        store<f64>(totals + (i << 3), load<f64>(totals + (i << 3)) + <f64>load<f32>(partials + (i << 2)));
      }
    }
  }
  for (let i: usize = 0; i < values; i++) store<f32>(dw + (i << 2), <f32>load<f64>(totals + (i << 3)));
}
