/**
 * HTTP for the remote teacher: one request with a per-attempt timeout and retries with
 * exponential backoff, and a pool that keeps a fixed number of tasks in flight. Redirects are
 * refused, never followed, and answers are read up to a byte limit. Transport only: what an
 * answer means is remote.ts's business.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../errors.js';
import { redactUrl } from '../util/endpoint.js';

export interface RetryPolicy {
  /** Per-attempt timeout, reading the response body included. */
  timeoutMs: number;
  /** Attempts after the first one. */
  retries: number;
  /** Delay before the first retry; doubles with each further one. */
  backoffMs: number;
}

/** An answer for the caller to interpret: a 2xx, or a 4xx other than 429 (never worth retrying). */
export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  /** JSON text, for POST. */
  body?: string;
  /** Sent as they are; never part of a message. */
  headers: Record<string, string>;
  /** A 2xx body longer than this is an InputError, read no further. */
  maxResponseBytes: number;
  /** Ends that error: where the limit comes from and how to raise it. */
  limitNote: string;
}

// A server asking for a longer pause (Retry-After: 3600 during maintenance) still gets its retries
// within a run's patience; waiting an hour per attempt would look like a hang.
const maxWaitMs = 30_000;
// Only the start of an error answer is ever shown.
const errorBodyBytes = 64 * 1024;
// Nothing listens there, or the name does not resolve: the URL is wrong, and retrying cannot help.
const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Sends `request`, retrying on 429, 5xx, timeouts and dropped connections. `where` names the
 * endpoint in errors. An unreachable host is an InputError at once; giving up after the last
 * retry is a plain Error (exit 1), because the configuration is right and a later run may
 * succeed: the server was overloaded or down, which is not something the user's input can fix.
 * Aborting `signal` rejects with its reason, without further attempts.
 */
export async function requestWithRetries(
  request: HttpRequest,
  policy: RetryPolicy,
  where: string,
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const attempts = policy.retries + 1;
  let lastFailure = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const outcome = await attemptOnce(request, policy.timeoutMs, where, signal);
    if ('answer' in outcome) return outcome.answer;
    lastFailure = outcome.failure;
    if (attempt === attempts) break;
    // Jitter spreads the retries of requests that failed together, so they do not return together.
    // Not Math.random: a run seeds that for dropout, and a retry must not move its masks.
    const backoffMs = policy.backoffMs * 2 ** (attempt - 1) * (0.5 + randomInt(2 ** 16) / 2 ** 17);
    await sleep(Math.min(Math.max(backoffMs, outcome.retryAfterMs ?? 0), maxWaitMs), undefined, { signal });
  }
  throw new Error(`${where}: ${request.method} ${request.url.pathname} gave up after ${attempts} attempts: last ${lastFailure}`);
}

type Outcome = { answer: HttpAnswer } | { failure: string; retryAfterMs?: number };

async function attemptOnce(request: HttpRequest, timeoutMs: number, where: string, signal?: AbortSignal): Promise<Outcome> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const what = `${request.method} ${request.url.pathname}`;
  let response: Response;
  let body: CappedText;
  try {
    response = await fetch(request.url, {
      method: request.method,
      body: request.body,
      headers: request.body === undefined ? request.headers : { ...request.headers, 'content-type': 'application/json' },
      // Following would send the pixels and headers wherever the server points; a 3xx is refused below.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const success = response.status >= 200 && response.status < 300;
    body = await readCapped(response, success ? request.maxResponseBytes : errorBodyBytes);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) return { failure: `timeout: no answer within ${timeoutMs} ms` };
    const code = causeCode(error);
    if (code !== undefined && unreachableCodes.has(code)) {
      throw new InputError(`${where}: cannot connect (${code}); expected an inference server listening there`);
    }
    return { failure: `connection error (${code ?? (error instanceof Error ? error.message : String(error))})` };
  }
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    const target =
      location === null
        ? ' without a Location'
        : `, a redirect to ${redactUrl(URL.canParse(location, request.url) ? new URL(location, request.url) : location)}`;
    throw new InputError(
      `${where}: ${what} answered ${response.status}${target}; kdkit does not follow redirects (they would carry the training pixels and headers elsewhere): set url to the address the server redirects to`,
    );
  }
  if (!body.complete && response.status < 300) {
    throw new InputError(`${where}: ${what} answered more than ${request.maxResponseBytes} bytes, ${request.limitNote}`);
  }
  if (response.status === 429 || response.status >= 500) {
    return { failure: `status ${response.status}${excerpt(body.text)}`, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
  }
  return { answer: { status: response.status, contentType: response.headers.get('content-type') ?? '', text: body.text } };
}

interface CappedText {
  text: string;
  /** False when the body went on past the limit; the rest was not read. */
  complete: boolean;
}

/** The body's text up to `limitBytes`, streamed, so an endless or huge answer costs no more than the limit. */
async function readCapped(response: Response, limitBytes: number): Promise<CappedText> {
  if (response.body === null) return { text: '', complete: true };
  const chunks: Uint8Array[] = [];
  let sizeBytes = 0;
  for await (const chunk of response.body) {
    chunks.push(chunk.subarray(0, limitBytes - sizeBytes));
    sizeBytes += chunk.byteLength;
    // Leaving the loop cancels the stream, which closes the connection.
    if (sizeBytes > limitBytes) break;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), complete: sizeBytes <= limitBytes };
}

/** Retry-After as delay-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const delayMs = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(delayMs) ? Math.min(Math.max(delayMs, 0), maxWaitMs) : undefined;
}

/** fetch wraps socket errors as `TypeError('fetch failed', { cause })`; happy eyeballs nests them in an AggregateError. */
function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code;
}

/** The server's text in a failure line: on one line, in parentheses, cut by `shortened`. */
export function excerpt(text: string): string {
  const line = shortened(text);
  return line === '' ? '' : ` (${line})`;
}

/** `text` on one line; past 200 characters, its first 200, an ellipsis and the whole length. */
export function shortened(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}… (${line.length} characters)` : line;
}

/**
 * Runs `task(0 … count−1)` with at most `concurrency` in flight; results in index order. The first
 * failure aborts the signal the other tasks got, waits for them to settle (so nothing is left
 * running), and is the one rethrown.
 */
export async function mapConcurrent<T>(
  count: number,
  concurrency: number,
  task: (index: number, signal: AbortSignal) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  const controller = new AbortController();
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < count && failure === undefined) {
      const index = next++;
      try {
        results[index] = await task(index, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
