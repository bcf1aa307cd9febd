// scripts/llm-server.mjs for tests: an OpenAI-compatible endpoint on 127.0.0.1 with
// examples/bert-teacher's ONNX classifier behind it, started with the faults a test asks for.
import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVED_MODEL = 'kdkit-onnx-llm';
export const BANKING77_CLASSES = join(root, 'data', 'banking77', 'categories.json');

export interface LlmServer {
  /** http://127.0.0.1:PORT/v1 */
  url: string;
  stats(): Promise<{ requests: number; chatRequests: number; byText: Record<string, number> }>;
  stop(): Promise<void>;
}

/** Starts the server with `args` (e.g. ['--faults', '429,500']) and resolves once it listens. */
export async function startLlmServer(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LlmServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(root, 'scripts', 'llm-server.mjs'),
      '--model-file',
      join(root, 'examples', 'bert-teacher', 'teacher.onnx'),
      '--tokenizer',
      join(root, 'examples', 'bert-teacher', 'tokenizer.json'),
      '--labels',
      BANKING77_CLASSES,
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(output);
      if (match) resolveUrl(match[1]);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => reject(new Error(`llm-server exited (${code}): ${output}`)));
  });
  return {
    url,
    // A fresh connection each time (node:http, no agent): a test that blocked its event loop in
    // spawnSync would otherwise reuse a pooled socket the server has closed ("fetch failed").
    stats: () =>
      new Promise((resolveStats, reject) => {
        get(url.replace(/\/v1$/, '/stats'), { agent: false }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => resolveStats(JSON.parse(body)));
        }).on('error', reject);
      }),
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
