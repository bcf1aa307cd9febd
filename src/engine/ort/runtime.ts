/**
 * What the kernels need from ONNX Runtime, whichever way it is reached: ONNX Runtime's C API
 * (capi.ts, the default) or onnxruntime-node's private binding (binding.ts, the fallback).
 */

/** A float32 tensor as ONNX Runtime sees it: row-major data and its dimensions. */
export interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface OrtSessionOptions {
  /** Threads one run computes with (ONNX Runtime's intra-op thread pool, including the caller). */
  intraOpThreads: number;
}

/** A loaded one-graph session. */
export interface OrtSession {
  /**
   * Runs the graph synchronously. Inputs are read where they lie, without a copy; each output is
   * written into the buffer given for it, which must have the output's exact size.
   */
  run(inputs: Record<string, OrtTensor>, outputs: Record<string, OrtTensor>): void;
  dispose(): void;
}

export interface OrtRuntime {
  /** How ONNX Runtime is reached: its C API, or onnxruntime-node's binding. */
  readonly kind: 'c-api' | 'node-binding';
  /** ONNX Runtime's version. */
  readonly version: string;
  createSession(model: Uint8Array, options: OrtSessionOptions): OrtSession;
}

/** The first line of an error's message. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0];
}
