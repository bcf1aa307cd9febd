/**
 * KdkitLayerNorm and KdkitLayerNormGrad (../../kernels/layer_norm.ts) with SIMD over each row's
 * C values (4 at a time; a scalar tail when C is not a multiple of 4):
 *
 *   μ, σ² of the row;  r = 1 / √(σ² + ε);  x̂ = (x − μ) · r;  y = γ · x̂ + β
 *   dx = r · (g − mean(g) − x̂ · mean(g · x̂)) with g = γ · dy;  dγ = Σ dy · x̂;  dβ = Σ dy
 */
function horizontalSum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

export function layerNorm(
  x: usize,
  gamma: usize,
  beta: usize,
  y: usize,
  mean: usize,
  rstd: usize,
  rows: i32,
  columns: i32,
  epsilon: f32,
): void {
  const vectorEnd = (<usize>(columns & ~3)) << 2;
  const end = (<usize>columns) << 2;
  const count = <f32>columns;
  for (let row = 0; row < rows; row++) {
    const start = x + <usize>row * end;
    const out = y + <usize>row * end;
    let sums = f32x4.splat(0);
    let at: usize = 0;
    for (; at < vectorEnd; at += 16) sums = f32x4.add(sums, v128.load(start + at));
    let sum = horizontalSum(sums);
    for (; at < end; at += 4) sum += load<f32>(start + at);
    const mu = sum / count;
    const mus = f32x4.splat(mu);
    let squares = f32x4.splat(0);
    for (at = 0; at < vectorEnd; at += 16) {
      const d = f32x4.sub(v128.load(start + at), mus);
      squares = f32x4.add(squares, f32x4.mul(d, d));
    }
    let square = horizontalSum(squares);
    for (; at < end; at += 4) {
      const d = load<f32>(start + at) - mu;
      square += d * d;
    }
    const r = <f32>1 / Mathf.sqrt(square / count + epsilon);
    const rs = f32x4.splat(r);
    for (at = 0; at < vectorEnd; at += 16) {
      const normalized = f32x4.mul(f32x4.sub(v128.load(start + at), mus), rs);
      v128.store(out + at, f32x4.add(f32x4.mul(normalized, v128.load(gamma + at)), v128.load(beta + at)));
    }
    for (; at < end; at += 4) store<f32>(out + at, (load<f32>(start + at) - mu) * r * load<f32>(gamma + at) + load<f32>(beta + at));
    store<f32>(mean + ((<usize>row) << 2), mu);
    store<f32>(rstd + ((<usize>row) << 2), r);
  }
}

export function layerNormGrad(
  dy: usize,
  x: usize,
  gamma: usize,
  mean: usize,
  rstd: usize,
  dx: usize,
  dgamma: usize,
  dbeta: usize,
  rows: i32,
  columns: i32,
): void {
  const vectorEnd = (<usize>(columns & ~3)) << 2;
  const end = (<usize>columns) << 2;
  const count = <f32>columns;
  memory.fill(dgamma, 0, end);
  memory.fill(dbeta, 0, end);
  for (let row = 0; row < rows; row++) {
    const offset = <usize>row * end;
    const xs = x + offset;
    const dys = dy + offset;
    const mu = load<f32>(mean + ((<usize>row) << 2));
    const r = load<f32>(rstd + ((<usize>row) << 2));
    const mus = f32x4.splat(mu);
    const rs = f32x4.splat(r);
    let gs = f32x4.splat(0);
    let gxs = f32x4.splat(0);
    let at: usize = 0;
    for (; at < vectorEnd; at += 16) {
      const normalized = f32x4.mul(f32x4.sub(v128.load(xs + at), mus), rs);
      const d = v128.load(dys + at);
      const g = f32x4.mul(v128.load(gamma + at), d);
      gs = f32x4.add(gs, g);
      gxs = f32x4.add(gxs, f32x4.mul(g, normalized));
      v128.store(dgamma + at, f32x4.add(v128.load(dgamma + at), f32x4.mul(d, normalized)));
      v128.store(dbeta + at, f32x4.add(v128.load(dbeta + at), d));
    }
    let sumG = horizontalSum(gs);
    let sumGx = horizontalSum(gxs);
    for (; at < end; at += 4) {
      const normalized = (load<f32>(xs + at) - mu) * r;
      const d = load<f32>(dys + at);
      const g = load<f32>(gamma + at) * d;
      sumG += g;
      sumGx += g * normalized;
      store<f32>(dgamma + at, load<f32>(dgamma + at) + d * normalized);
      store<f32>(dbeta + at, load<f32>(dbeta + at) + d);
    }
    const meanG = sumG / count;
    const meanGx = sumGx / count;
    const meanGs = f32x4.splat(meanG);
    const meanGxs = f32x4.splat(meanGx);
    const out = dx + offset;
    for (at = 0; at < vectorEnd; at += 16) {
      const normalized = f32x4.mul(f32x4.sub(v128.load(xs + at), mus), rs);
      const g = f32x4.mul(v128.load(gamma + at), v128.load(dys + at));
      v128.store(out + at, f32x4.mul(rs, f32x4.sub(f32x4.sub(g, meanGs), f32x4.mul(normalized, meanGxs))));
    }
    for (; at < end; at += 4) {
      const normalized = (load<f32>(xs + at) - mu) * r;
      store<f32>(out + at, r * (load<f32>(gamma + at) * load<f32>(dys + at) - meanG - normalized * meanGx));
    }
  }
}
