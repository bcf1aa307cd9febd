/**
 * Never pay twice: every LLM answer is kept in the soft-label store, one small JSON file per text,
 * written atomically, in a directory named by a hash of everything that shapes the answer (the
 * endpoint, model, prompt template, mode and its parameters, the classes). A labelling run killed
 * at any point leaves only whole answers behind; the next one asks for the rest. The API key is
 * no part of the identity and is written nowhere.
 *
 *   <store>/llm-<key>/teacher.json           what the key stands for (no secret), for `kdkit cache ls`
 *   <store>/llm-<key>/answers/<ab>/<hash>.json one text's answer; <hash> = SHA-256 of key and text
 *   <store>/llm-<key>/failures.json          requests that failed for good (the last 100)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256 } from '../util/hash.js';
import type { LlmAnswer } from './llm_client.js';

/** What shapes an answer: equal identities give equal answers (up to the endpoint's sampling). */
export interface LlmIdentity {
  /** scheme://host:port/path/ with no credentials (util/endpoint.ts endpointIdentity). */
  endpoint: string;
  model: string;
  /** The template's text, not its path: an edited prompt is another teacher. */
  prompt: string;
  mode: string;
  sampling: Record<string, unknown>;
  classNames: readonly string[];
}

/** One text's stored answer. */
export interface StoredAnswer extends LlmAnswer {
  text: string;
}

/** Totals over the stored answers, for `kdkit cache ls` and the report. */
export interface LlmStoreSummary {
  texts: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Texts no answer named a class for, and unparseable answers among all. */
  unanswered: number;
  unparseable: number;
  failures: number;
}

const MAX_FAILURES_KEPT = 100;

export class LlmResponseStore {
  readonly directory: string;
  private readonly key: string;
  private readonly classes: number;

  constructor(root: string, identity: LlmIdentity) {
    this.classes = identity.classNames.length;
    this.key = sha256(JSON.stringify(identity));
    this.directory = join(root, `llm-${this.key.slice(0, 24)}`);
    mkdirSync(join(this.directory, 'answers'), { recursive: true });
    const descriptor = join(this.directory, 'teacher.json');
    if (!existsSync(descriptor)) writeFileAtomic(descriptor, `${JSON.stringify({ kind: 'llm', key: this.key, ...identity }, null, 2)}\n`);
  }

  private path(text: string): string {
    const hash = sha256(`${this.key}\u0000${text}`);
    return join(this.directory, 'answers', hash.slice(0, 2), `${hash}.json`);
  }

  /** The stored answer for `text`, or undefined when there is none (or it is damaged: it is asked again). */
  read(text: string): StoredAnswer | undefined {
    const path = this.path(text);
    if (!existsSync(path)) return undefined;
    try {
      const stored = JSON.parse(readFileSync(path, 'utf8')) as StoredAnswer;
      const classes = this.classes;
      const intact =
        stored.text === text &&
        (stored.logProbabilities === null ||
          (Array.isArray(stored.logProbabilities) &&
            stored.logProbabilities.length === classes &&
            stored.logProbabilities.every(Number.isFinite))) &&
        (stored.votes === undefined ||
          (Array.isArray(stored.votes) && stored.votes.every((vote) => Number.isInteger(vote) && vote >= 0 && vote < classes)));
      return intact ? stored : undefined;
    } catch {
      return undefined;
    }
  }

  write(text: string, answer: LlmAnswer): void {
    const path = this.path(text);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileAtomic(path, JSON.stringify({ text, ...answer }));
  }

  /** Keeps a request that failed for good (its message never holds the key: llm_client.ts masks it). */
  recordFailure(message: string): void {
    const path = join(this.directory, 'failures.json');
    const failures = readFailures(path);
    failures.push({ at: new Date().toISOString(), message });
    writeFileAtomic(path, `${JSON.stringify(failures.slice(-MAX_FAILURES_KEPT), null, 2)}\n`);
  }
}

/** The most recent request that failed for good in an llm-<key> directory, if any. */
export function lastFailure(directory: string): { at: string; message: string } | undefined {
  return readFailures(join(directory, 'failures.json')).at(-1);
}

function readFailures(path: string): { at: string; message: string }[] {
  try {
    const failures = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return Array.isArray(failures) ? failures : [];
  } catch {
    return [];
  }
}

/** Totals of an llm-<key> directory's answers and failures. */
export function summarizeLlmStore(directory: string): LlmStoreSummary {
  const summary: LlmStoreSummary = {
    texts: 0,
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    unanswered: 0,
    unparseable: 0,
    failures: 0,
  };
  const answers = join(directory, 'answers');
  for (const fan of existsSync(answers) ? readdirSync(answers) : []) {
    for (const file of readdirSync(join(answers, fan))) {
      if (!file.endsWith('.json')) continue;
      try {
        const stored = JSON.parse(readFileSync(join(answers, fan, file), 'utf8')) as StoredAnswer;
        summary.texts++;
        summary.requests += stored.requests;
        summary.promptTokens += stored.usage.promptTokens;
        summary.completionTokens += stored.usage.completionTokens;
        summary.unparseable += stored.unparseable;
        if (stored.logProbabilities === null) summary.unanswered++;
      } catch {
        // A damaged answer is asked again by the next run; it counts for nothing here.
      }
    }
  }
  summary.failures = readFailures(join(directory, 'failures.json')).length;
  return summary;
}

/** One llm-<key> directory of a store, for `kdkit cache ls` and `rm`. */
export interface LlmStoreEntry {
  /** The directory's name without 'llm-': the key's first 24 hex digits. */
  id: string;
  directory: string;
  /** What teacher.json says (null when it cannot be read). */
  identity: (LlmIdentity & { kind: 'llm' }) | null;
  summary: LlmStoreSummary;
  sizeBytes: number;
}

const llmDirectory = /^llm-([0-9a-f]{24})$/;

/** The LLM answer directories under a store's root, by id. */
export function listLlmStores(root: string): LlmStoreEntry[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((item) => item.isDirectory() && llmDirectory.test(item.name))
    .map((item) => {
      const directory = join(root, item.name);
      let sizeBytes = 0;
      for (const file of readdirSync(directory, { withFileTypes: true, recursive: true })) {
        if (file.isFile()) sizeBytes += statSync(join(file.parentPath, file.name)).size;
      }
      let identity: LlmStoreEntry['identity'] = null;
      try {
        identity = JSON.parse(readFileSync(join(directory, 'teacher.json'), 'utf8')) as LlmStoreEntry['identity'];
      } catch {
        // Listed as unreadable; its answers still count.
      }
      return { id: llmDirectory.exec(item.name)![1], directory, identity, summary: summarizeLlmStore(directory), sizeBytes };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Deletes one LLM answer directory, found by listing the store (never by joining a user-given path). */
export function removeLlmStore(entry: LlmStoreEntry): void {
  rmSync(entry.directory, { recursive: true, force: true });
}
