/**
 * ONNX Runtime sessions for one-op graphs, cached by the graph they run (op, shapes and
 * attributes) and the thread count. Creating a session parses and optimizes the model, which
 * costs far more than a run, while training repeats the same few shapes every step.
 */
import type { OrtRuntime, OrtSession } from './runtime.js';
import { encodeModel, type GraphSpec, type NodeSpec, type ValueSpec } from './onnx_model.js';

/**
 * A graph known by a short key that determines it, whose nodes are built only when a session is
 * created: for graphs with large constants (a convolution's patch index), which would make a
 * key of the whole graph slow to compute on every call.
 */
export interface KeyedGraph {
  key: string;
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  nodes: () => readonly NodeSpec[];
  /**
   * Threads the session computes with, when not the cache's: graphs that measured faster on the
   * calling thread alone (a thread pool's hand-offs cost more than they save).
   */
  threads?: number;
}

export interface SessionCacheOptions {
  /** Threads each session computes with. */
  intraOpThreads: number;
  /** Sessions kept; the least recently used one is disposed beyond this. */
  capacity: number;
}

export class SessionCache {
  private readonly sessions = new Map<string, OrtSession>();

  constructor(
    private readonly runtime: OrtRuntime,
    readonly options: SessionCacheOptions,
  ) {}

  /** Sessions currently held. */
  get size(): number {
    return this.sessions.size;
  }

  /** The session running `graph`, created on first use. */
  session(graph: GraphSpec | KeyedGraph): OrtSession {
    const keyed = 'key' in graph;
    const threads = Math.min(
      keyed ? (graph.threads ?? this.options.intraOpThreads) : this.options.intraOpThreads,
      this.options.intraOpThreads,
    );
    const key = keyed ? (threads === this.options.intraOpThreads ? graph.key : `${graph.key} threads ${threads}`) : JSON.stringify(graph);
    const cached = this.sessions.get(key);
    if (cached !== undefined) {
      // Re-insert so that Map order is least recently used first.
      this.sessions.delete(key);
      this.sessions.set(key, cached);
      return cached;
    }
    const spec: GraphSpec = keyed ? { inputs: graph.inputs, outputs: graph.outputs, nodes: graph.nodes() } : graph;
    const created = this.runtime.createSession(encodeModel(spec), { intraOpThreads: threads });
    this.sessions.set(key, created);
    if (this.sessions.size > this.options.capacity) {
      const [oldestKey, oldest] = this.sessions.entries().next().value as [string, OrtSession];
      this.sessions.delete(oldestKey);
      oldest.dispose();
    }
    return created;
  }

  /** The keys of the sessions held: a keyed graph's key, or the JSON of a plain graph. */
  keys(): string[] {
    return [...this.sessions.keys()];
  }

  /** Disposes every session. */
  clear(): void {
    for (const session of this.sessions.values()) session.dispose();
    this.sessions.clear();
  }
}
