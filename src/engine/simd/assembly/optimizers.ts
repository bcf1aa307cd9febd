/**
 * Optimizer updates in one SIMD pass over each variable (see ../../../train/optimizers/). Every
 * array is a byte offset into the wasm heap; `next` may not alias `weights`, the moments are
 * updated in place.
 */

/**
 * Adam with weight decay: g ← g + decay·w (coupled, PyTorch's Adam `weight_decay`; 0 for none),
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², next = keep·w − stepSize · m / (√v · secondCorrection + ε),
 * where keep = 1 − lr·λ decouples the decay (AdamW), 1 for none.
 */
export function adam(
  next: usize,
  weights: usize,
  gradient: usize,
  firstMoment: usize,
  secondMoment: usize,
  size: i32,
  beta1: f32,
  beta2: f32,
  stepSize: f32,
  secondCorrection: f32,
  epsilon: f32,
  decay: f32,
  keep: f32,
): void {
  const firstDecay: f32 = 1 - beta1;
  const secondDecay: f32 = 1 - beta2;
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const d1 = f32x4.splat(firstDecay);
  const d2 = f32x4.splat(secondDecay);
  const lr = f32x4.splat(stepSize);
  const correction = f32x4.splat(secondCorrection);
  const eps = f32x4.splat(epsilon);
  const l2 = f32x4.splat(decay);
  const kept = f32x4.splat(keep);
  const vectorEnd = (<usize>(size & ~3)) << 2;
  let at: usize = 0;
  for (; at < vectorEnd; at += 16) {
    const w = v128.load(weights + at);
    const g = f32x4.add(v128.load(gradient + at), f32x4.mul(l2, w));
    const m = f32x4.add(f32x4.mul(b1, v128.load(firstMoment + at)), f32x4.mul(d1, g));
    const v = f32x4.add(f32x4.mul(b2, v128.load(secondMoment + at)), f32x4.mul(f32x4.mul(d2, g), g));
    v128.store(firstMoment + at, m);
    v128.store(secondMoment + at, v);
    const denominator = f32x4.add(f32x4.mul(f32x4.sqrt(v), correction), eps);
    v128.store(next + at, f32x4.sub(f32x4.mul(kept, w), f32x4.div(f32x4.mul(lr, m), denominator)));
  }
  for (const end = (<usize>size) << 2; at < end; at += 4) {
    const w = load<f32>(weights + at);
    const g = load<f32>(gradient + at) + decay * w;
    const m = beta1 * load<f32>(firstMoment + at) + firstDecay * g;
    const v = beta2 * load<f32>(secondMoment + at) + secondDecay * g * g;
    store<f32>(firstMoment + at, m);
    store<f32>(secondMoment + at, v);
    store<f32>(next + at, keep * w - (stepSize * m) / (sqrt<f32>(v) * secondCorrection + epsilon));
  }
}

/** SGD with momentum and weight decay (PyTorch's, coupled): g ← g + decay·w, a ← μa + g, next = w − lr · a. */
export function momentum(
  next: usize,
  weights: usize,
  gradient: usize,
  accumulation: usize,
  size: i32,
  learningRate: f32,
  mu: f32,
  decay: f32,
): void {
  const lr = f32x4.splat(learningRate);
  const kept = f32x4.splat(mu);
  const l2 = f32x4.splat(decay);
  const vectorEnd = (<usize>(size & ~3)) << 2;
  let at: usize = 0;
  for (; at < vectorEnd; at += 16) {
    const w = v128.load(weights + at);
    const g = f32x4.add(v128.load(gradient + at), f32x4.mul(l2, w));
    const a = f32x4.add(f32x4.mul(kept, v128.load(accumulation + at)), g);
    v128.store(accumulation + at, a);
    v128.store(next + at, f32x4.sub(w, f32x4.mul(lr, a)));
  }
  for (const end = (<usize>size) << 2; at < end; at += 4) {
    const w = load<f32>(weights + at);
    const a = mu * load<f32>(accumulation + at) + load<f32>(gradient + at) + decay * w;
    store<f32>(accumulation + at, a);
    store<f32>(next + at, w - learningRate * a);
  }
}

/** Plain SGD with weight decay (coupled): next = w − lr · (g + decay·w). */
export function sgd(next: usize, weights: usize, gradient: usize, size: i32, learningRate: f32, decay: f32): void {
  const lr = f32x4.splat(learningRate);
  const l2 = f32x4.splat(decay);
  const vectorEnd = (<usize>(size & ~3)) << 2;
  let at: usize = 0;
  for (; at < vectorEnd; at += 16) {
    const w = v128.load(weights + at);
    v128.store(next + at, f32x4.sub(w, f32x4.mul(lr, f32x4.add(v128.load(gradient + at), f32x4.mul(l2, w)))));
  }
  for (const end = (<usize>size) << 2; at < end; at += 4) {
    const w = load<f32>(weights + at);
    store<f32>(next + at, w - learningRate * (load<f32>(gradient + at) + decay * w));
  }
}
