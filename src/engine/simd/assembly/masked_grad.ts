/**
 * KdkitMaskedGrad (../../kernels/gradients.ts) in one SIMD pass: dx = dy where low < x ≤ high
 * (low ≤ x with `lowInclusive`), with each gradient's rule for the rest. `select` (clipByValue's
 * where): dy or +0. Otherwise dy times a 0/1 mask that is NaN where x is NaN (ReLU6's step), so
 * that dx keeps dy · 0's sign and NaN exactly as tfjs-core's multiply does.
 */
export function maskedGrad(dy: usize, x: usize, dx: usize, size: i32, low: f32, high: f32, lowInclusive: bool, select: bool): void {
  const lows = f32x4.splat(low);
  const highs = f32x4.splat(high);
  const atLow = lowInclusive ? i32x4.splat(-1) : i32x4.splat(0);
  const ones = f32x4.splat(1);
  const nans = f32x4.splat(NaN);
  const vectorEnd = (<usize>(size & ~3)) << 2;
  let at: usize = 0;
  // One loop per rule: the rule is not re-tested per element.
  if (select) {
    for (; at < vectorEnd; at += 16) {
      const v = v128.load(x + at);
      const above = v128.or(f32x4.gt(v, lows), v128.and(f32x4.eq(v, lows), atLow));
      v128.store(dx + at, v128.and(v128.load(dy + at), v128.and(above, f32x4.le(v, highs))));
    }
  } else {
    for (; at < vectorEnd; at += 16) {
      const v = v128.load(x + at);
      const above = v128.or(f32x4.gt(v, lows), v128.and(f32x4.eq(v, lows), atLow));
      const pass = v128.and(above, f32x4.le(v, highs));
      const mask = v128.or(v128.and(ones, pass), v128.and(nans, f32x4.ne(v, v)));
      v128.store(dx + at, f32x4.mul(v128.load(dy + at), mask));
    }
  }
  for (const end = (<usize>size) << 2; at < end; at += 4) {
    const v = load<f32>(x + at);
    const pass = (v > low || (lowInclusive && v === low)) && v <= high;
    const g = load<f32>(dy + at);
    if (select) store<f32>(dx + at, pass ? g : 0);
    else store<f32>(dx + at, g * (pass ? <f32>1 : F32.isNaN(v) ? <f32>NaN : <f32>0));
  }
}
