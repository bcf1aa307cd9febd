/**
 * A small Open Inference Protocol (KServe v2 REST) server for the remote teacher's tests: health,
 * model metadata and infer, running ONNX models in onnxruntime-node, with faults to inject
 * (error statuses, redirects, slow answers, mangled or oversized responses, a server that answers
 * HTML to everything). Like Triton, it checks a request's inputs against the datatypes and shapes
 * its metadata declares, and like a server behind an auth proxy it can demand headers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as ort from 'onnxruntime-node';

export interface ServedModel {
  onnx: Uint8Array;
  version?: string;
  /** The input shape the metadata declares, instead of the ONNX graph's (e.g. a fixed batch). */
  inputShape?: number[];
}

/** What the server does to one infer request: wait, then answer an error or a changed body. */
export interface InferFault {
  delayMs?: number;
  /** Answer this status with {"error": message} instead of inferring. */
  status?: number;
  message?: string;
  /** Sent as the Retry-After header. */
  retryAfter?: string;
  /** Sent as the Location header (with a 3xx `status`). */
  location?: string;
  /** Answer 200 with a JSON body of this many bytes, streamed without a Content-Length. */
  bodyBytes?: number;
  /** Rewrites a successful response body. */
  mutate?: (body: { outputs: { name: string; datatype: string; shape: number[]; data: unknown }[] }) => void;
}

export interface KServeFaults {
  /** The fault for the infer request numbered `index` (0-based, counting every attempt). */
  infer?: (index: number) => InferFault | undefined;
  /** Every path answers an HTML page, like a web server that is not an inference server. */
  html?: boolean;
  /** Pads the model metadata to this many bytes. */
  metadataBytes?: number;
  /** Every request lacking one of these headers (name in lower case) and values is answered 401. */
  requireHeaders?: Record<string, string>;
}

export interface KServeServer {
  /** http://127.0.0.1:port */
  url: string;
  /** Infer requests received so far, failed ones included. */
  readonly requests: number;
  /** Most infer requests in flight at one time. */
  readonly maxInFlight: number;
  /** Bytes of streamed `bodyBytes` answers written before the client closed or the body ended. */
  readonly streamedBytes: number;
  close(): Promise<void>;
}

interface Loaded {
  session: ort.InferenceSession;
  version?: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** Starts the server on 127.0.0.1, on a free port. */
export async function startKServeServer(options: { models: Record<string, ServedModel>; faults?: KServeFaults }): Promise<KServeServer> {
  const models = new Map<string, Loaded>();
  for (const [name, model] of Object.entries(options.models)) {
    const session = await ort.InferenceSession.create(model.onnx);
    const describe = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
      metadata.map((value) => ({
        name: value.name,
        datatype: value.isTensor ? (DATATYPES[value.type] ?? value.type) : 'none',
        shape: value.isTensor ? value.shape.map((size) => (typeof size === 'number' ? size : -1)) : [],
      }));
    const inputs = describe(session.inputMetadata);
    if (model.inputShape) inputs[0].shape = model.inputShape;
    models.set(name, { session, version: model.version, inputs, outputs: describe(session.outputMetadata) });
  }
  const closing = new AbortController();
  const state = { requests: 0, inFlight: 0, maxInFlight: 0, streamedBytes: 0 };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const body = await readBody(request);
    if (options.faults?.html) return send(response, 200, '<!doctype html><html><body><h1>Welcome</h1></body></html>', 'text/html');
    const missing = Object.entries(options.faults?.requireHeaders ?? {}).find(([name, value]) => request.headers[name] !== value);
    if (missing) return sendError(response, 401, `missing or wrong ${missing[0]} header`);
    const path = new URL(request.url ?? '/', 'http://server').pathname;
    if (request.method === 'GET' && path === '/v2/health/ready') return send(response, 200, '');
    const match = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/infer)?$/.exec(path);
    const model = match ? models.get(decodeURIComponent(match[1])) : undefined;
    const version = match?.[2] === undefined ? undefined : decodeURIComponent(match[2]);
    if (!match || !model || (version !== undefined && version !== model.version))
      return sendError(response, 404, `unknown model or version: ${path}`);
    const name = decodeURIComponent(match[1]);
    if (!match[3] && request.method === 'GET') {
      const metadata = {
        name,
        versions: model.version ? [model.version] : undefined,
        platform: 'onnxruntime_onnx',
        inputs: model.inputs,
        outputs: model.outputs,
      };
      return sendJson(response, 200, options.faults?.metadataBytes ? padded(metadata, options.faults.metadataBytes) : metadata);
    }
    if (!match[3] || request.method !== 'POST') return sendError(response, 405, `${request.method} ${path} is not supported`);

    const index = state.requests++;
    const fault = options.faults?.infer?.(index);
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    try {
      if (fault?.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
      if (fault?.status)
        return sendError(response, fault.status, fault.message ?? `injected ${fault.status}`, {
          'retry-after': fault.retryAfter,
          location: fault.location,
        });
      if (fault?.bodyBytes) return await stream(response, fault.bodyBytes, state);
      const answer = await infer(name, model, JSON.parse(body));
      if (typeof answer === 'string') return sendError(response, 400, answer);
      fault?.mutate?.(answer);
      sendJson(response, 200, answer);
    } finally {
      state.inFlight--;
    }
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!closing.signal.aborted) sendError(response, 500, String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get streamedBytes() {
      return state.streamedBytes;
    },
    async close() {
      closing.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const model of models.values()) await model.session.release();
    },
  };
}

interface InferRequest {
  inputs?: { name: string; shape: number[]; datatype: string; data: number[] }[];
  outputs?: { name: string }[];
}

/** The protocol's datatype of each ONNX Runtime element type the tests serve. */
const DATATYPES: Readonly<Record<string, string>> = { float32: 'FP32', float16: 'FP16', int32: 'INT32', int64: 'INT64' };

/** A request input's JSON numbers as the tensor ONNX Runtime takes. */
function inputTensor(input: { datatype: string; shape: number[]; data: number[] }): ort.Tensor {
  switch (input.datatype) {
    case 'INT64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(input.data, (value) => BigInt(value)),
        input.shape,
      );
    case 'INT32':
      return new ort.Tensor('int32', Int32Array.from(input.data), input.shape);
    default:
      return new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
  }
}

/** Runs an infer request; the response body, or what is wrong with the request. */
async function infer(name: string, model: Loaded, request: InferRequest) {
  if ((request.inputs ?? []).length !== model.inputs.length)
    return `expected ${model.inputs.length} inputs, got ${request.inputs?.length ?? 0}`;
  const feeds: Record<string, ort.Tensor> = {};
  for (const declared of model.inputs) {
    const input = request.inputs?.find((each) => each.name === declared.name);
    if (!input) return `expected input '${declared.name}'`;
    if (input.datatype !== declared.datatype) return `input '${input.name}': expected ${declared.datatype}, got ${input.datatype}`;
    const fits =
      input.shape.length === declared.shape.length &&
      input.shape.every((size, i) => declared.shape[i] === -1 || declared.shape[i] === size);
    if (!fits) return `input '${input.name}': shape [${input.shape}] does not match [${declared.shape}]`;
    if (input.data.length !== input.shape.reduce((product, size) => product * size, 1))
      return `input '${input.name}': ${input.data.length} values for shape [${input.shape}]`;
    feeds[input.name] = inputTensor(input);
  }
  const names = request.outputs?.map((output) => output.name) ?? model.session.outputNames;
  const unknown = names.find((output) => !model.session.outputNames.includes(output));
  if (unknown !== undefined) return `unknown output '${unknown}'`;
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await model.session.run(feeds, names);
  } catch (error) {
    return `onnxruntime: ${error instanceof Error ? error.message : String(error)}`;
  }
  const outputs = names.map((output) => {
    const tensor = results[output] as ort.Tensor;
    return { name: output, datatype: 'FP32', shape: [...tensor.dims], data: Array.from(tensor.data as Float32Array) as unknown };
  });
  return { model_name: name, model_version: model.version, outputs };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(
  response: ServerResponse,
  status: number,
  text: string,
  contentType = 'text/plain',
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': contentType, ...headers });
  response.end(text);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, JSON.stringify(body), 'application/json');
}

function sendError(response: ServerResponse, status: number, message: string, headers: Record<string, string | undefined> = {}): void {
  const present = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
  send(response, status, JSON.stringify({ error: message }), 'application/json', present);
}

/** `body` as JSON text of exactly `sizeBytes` bytes, the rest a padding field. */
function padded(body: object, sizeBytes: number): object {
  const overhead = JSON.stringify({ ...body, padding: '' }).length;
  return { ...body, padding: 'x'.repeat(Math.max(sizeBytes - overhead, 0)) };
}

/** A 200 JSON answer of `sizeBytes` bytes, written in 64 KiB chunks until done or the client goes away. */
async function stream(response: ServerResponse, sizeBytes: number, state: { streamedBytes: number }): Promise<void> {
  response.writeHead(200, { 'content-type': 'application/json' });
  const text = JSON.stringify(padded({ outputs: [] }, sizeBytes));
  const chunkBytes = 64 * 1024;
  for (let start = 0; start < text.length && !response.destroyed; start += chunkBytes) {
    const chunk = text.slice(start, start + chunkBytes);
    state.streamedBytes += chunk.length;
    if (!response.write(chunk))
      await new Promise((resolve) => {
        response.once('drain', resolve);
        response.once('close', resolve);
      });
  }
  response.end();
}
