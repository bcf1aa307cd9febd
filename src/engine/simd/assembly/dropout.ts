/**
 * KdkitDropout (../../kernels/dropout.ts): y = x · m with m = scale where the element is kept,
 * else 0, and m written out for the gradient. Element i is kept when the top 24 bits of
 * mulberry32's output for counter seed + i·0x6d2b79f5 fall below `threshold` (keep · 2^24): a
 * counter-based draw, so four lanes compute it at once and the JavaScript path gives the same mask.
 */
export function dropout(x: usize, y: usize, mask: usize, size: i32, seed: u32, threshold: u32, scale: f32): void {
  const step = i32x4.splat(0x6d2b79f5);
  const lanes = i32x4.mul(i32x4(0, 1, 2, 3), step);
  let counter = i32x4.add(i32x4.splat(<i32>seed), i32x4.add(lanes, step));
  const stride = i32x4.mul(i32x4.splat(4), step);
  const thresholds = i32x4.splat(<i32>threshold);
  const scales = f32x4.splat(scale);
  const ones = i32x4.splat(1);
  const vectorEnd = (<usize>(size & ~3)) << 2;
  let at: usize = 0;
  for (; at < vectorEnd; at += 16) {
    let t = counter;
    t = i32x4.mul(v128.xor(t, i32x4.shr_u(t, 15)), v128.or(t, ones));
    t = v128.xor(t, i32x4.add(t, i32x4.mul(v128.xor(t, i32x4.shr_u(t, 7)), v128.or(t, i32x4.splat(61)))));
    const bits = i32x4.shr_u(v128.xor(t, i32x4.shr_u(t, 14)), 8);
    const m = v128.and(scales, i32x4.lt_s(bits, thresholds));
    v128.store(mask + at, m);
    v128.store(y + at, f32x4.mul(v128.load(x + at), m));
    counter = i32x4.add(counter, stride);
  }
  for (let i = <i32>(at >> 2); i < size; i++) {
    let t: u32 = seed + <u32>(i + 1) * 0x6d2b79f5;
    t = (t ^ (t >>> 15)) * (t | 1);
    t ^= t + (t ^ (t >>> 7)) * (t | 61);
    const m: f32 = (t ^ (t >>> 14)) >>> 8 < threshold ? scale : 0;
    store<f32>(mask + ((<usize>i) << 2), m);
    store<f32>(y + ((<usize>i) << 2), load<f32>(x + ((<usize>i) << 2)) * m);
  }
}
