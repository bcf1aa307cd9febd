#!/usr/bin/env node
// An OpenAI-compatible Chat Completions server on 127.0.0.1 with a real model behind it: a text
// classifier in ONNX (examples/bert-teacher/teacher.onnx, or any model taking input_ids,
// attention_mask and token_type_ids and giving `logits`) plays the LLM. It is what kdkit's LLM
// teacher is tested against and what examples/llm-teacher labels Banking77 with, so that both run
// with no network and no API bill; point the same config at OpenAI, vLLM or llama.cpp instead.
//
// How it answers a prompt: the options are the prompt's lines "N. class_name", the text is what
// follows the last "--text-marker" (default "Query: ") to the end of its line. The model's logits
// over the options, divided by --temperature, are the answer token's distribution:
//   logprobs: true    → max_tokens 1 answer, the most likely option, with its top_logprobs
//                       (top_logprobs ≤ 20 alternatives, each option's number as one token);
//   n > 1 / sampling  → n answers drawn from that distribution at the request's temperature
//                       (seeded by the text and the sample, so a rerun gives the same answers),
//                       as {"answer": N} when response_format asks for JSON, else the bare number.
// `usage` counts whitespace-separated words as tokens.
//
// Faults, for tests: --faults 429,500,timeout,truncated,ok,… are consumed one per chat request
// (429 carries Retry-After: --retry-after seconds; timeout holds the request and never answers;
// truncated cuts the JSON body in half), then every request is answered. --no-logprobs answers
// like a reasoning model (no logprobs). --garbage R makes a share R of sampled answers unparseable.
// --api-key-env VAR requires "Authorization: Bearer $VAR". GET /stats gives the requests counted
// per text (SHA-256 of the text) and in all (itself not counted); nothing else can be read, and nothing written.
//
// Run: npx tsc -p . && node scripts/llm-server.mjs --model-file examples/bert-teacher/teacher.onnx \
//        --tokenizer examples/bert-teacher/tokenizer.json --labels data/banking77/categories.json [--port 8000]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { TextTokenizer } from '../dist/data/text/tokenizer.js';

const { values: args } = parseArgs({
  options: {
    'model-file': { type: 'string' },
    tokenizer: { type: 'string' },
    labels: { type: 'string' },
    name: { type: 'string', default: 'kdkit-onnx-llm' },
    port: { type: 'string', default: '0' },
    'max-length': { type: 'string', default: '64' },
    temperature: { type: 'string', default: '1' },
    'text-marker': { type: 'string', default: 'Query: ' },
    faults: { type: 'string', default: '' },
    'retry-after': { type: 'string', default: '1' },
    'no-logprobs': { type: 'boolean', default: false },
    garbage: { type: 'string', default: '0' },
    'api-key-env': { type: 'string' },
  },
});
for (const required of ['model-file', 'tokenizer', 'labels']) {
  if (args[required] === undefined) {
    console.error(`llm-server: --${required} is required`);
    process.exit(2);
  }
}

const tokenizer = TextTokenizer.load(args.tokenizer, '--tokenizer');
const labels = JSON.parse(readFileSync(args.labels, 'utf8'));
const session = await ort.InferenceSession.create(args['model-file']);
const maxLength = Number(args['max-length']);
const modelTemperature = Number(args.temperature);
const faults = args.faults === '' ? [] : args.faults.split(',');
const garbageShare = Number(args.garbage);
const apiKey = args['api-key-env'] === undefined ? undefined : process.env[args['api-key-env']];
const stats = { requests: 0, chatRequests: 0, byText: {} };

/** Logits over the model's classes for one text. */
async function classify(text) {
  const { ids, typeIds } = tokenizer.ids(text, maxLength);
  const tensor = (values) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  const feeds = { input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)), token_type_ids: tensor(typeIds) };
  const inputs = Object.fromEntries(Object.entries(feeds).filter(([name]) => session.inputNames.includes(name)));
  const { logits } = await session.run(inputs, ['logits']);
  return Array.from(logits.data);
}

/** The prompt's options ("N. name" lines) and its text (after the last marker, to the end of the line). */
function readPrompt(prompt) {
  const options = [...prompt.matchAll(/^\s*(\d+)\. (.+?)\s*$/gm)].map((match) => ({ number: match[1], name: match[2] }));
  const at = prompt.lastIndexOf(args['text-marker']);
  if (options.length === 0 || at < 0) return undefined;
  const text = prompt.slice(at + args['text-marker'].length).split('\n')[0];
  return { options, text };
}

/** log-softmax of the model's logits over the options, at `temperature`. */
function optionLogprobs(logits, options, temperature) {
  const scores = options.map(({ name }) => {
    const index = labels.indexOf(name);
    return index < 0 ? Number.NEGATIVE_INFINITY : logits[index] / temperature;
  });
  const max = Math.max(...scores);
  const logSum = max + Math.log(scores.reduce((sum, score) => sum + Math.exp(score - max), 0));
  return scores.map((score) => score - logSum);
}

/** A generator of uniform draws in [0, 1), seeded by a string (mulberry32 over its SHA-256). */
function seeded(seed) {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function send(response, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(text);
}

const openaiError = (message, type, code) => ({ error: { message, type, code } });

async function chat(response, body) {
  const fault = faults.shift();
  if (fault === '429')
    return send(response, 429, openaiError('Rate limit reached', 'rate_limit_exceeded', null), { 'retry-after': args['retry-after'] });
  if (fault === '500') return send(response, 500, openaiError('The server had an error', 'server_error', null));
  if (fault === 'timeout') return; // never answered: the client's timeout ends it
  if (body.model !== args.name)
    return send(response, 404, openaiError(`The model '${body.model}' does not exist`, 'invalid_request_error', 'model_not_found'));
  const prompt = body.messages?.findLast?.((message) => message.role === 'user')?.content;
  const read = typeof prompt === 'string' ? readPrompt(prompt) : undefined;
  if (read === undefined)
    return send(
      response,
      400,
      openaiError(`the prompt needs "N. class" option lines and "${args['text-marker']}" before the text`, 'invalid_request_error', null),
    );
  const textKey = createHash('sha256').update(read.text).digest('hex');
  stats.byText[textKey] = (stats.byText[textKey] ?? 0) + 1;
  const logprobs = optionLogprobs(await classify(read.text), read.options, modelTemperature);
  const order = logprobs.map((logprob, i) => ({ token: read.options[i].number, logprob })).sort((a, b) => b.logprob - a.logprob);
  const promptTokens = prompt.split(/\s+/).filter(Boolean).length;
  let choices;
  if (body.logprobs === true) {
    const top = order.slice(0, Math.min(Number(body.top_logprobs ?? 0), 20));
    const answer = order[0];
    choices = [
      {
        index: 0,
        message: { role: 'assistant', content: answer.token },
        logprobs: args['no-logprobs'] ? null : { content: [{ token: answer.token, logprob: answer.logprob, top_logprobs: top }] },
        finish_reason: 'length',
      },
    ];
  } else {
    const n = Number(body.n ?? 1);
    const temperature = Number(body.temperature ?? 1);
    const json = body.response_format?.type === 'json_schema';
    const draw = seeded(`${read.text}\u0000${temperature}`);
    // Sampling at the request's temperature: p ∝ exp(logprob / temperature).
    const weights = logprobs.map((logprob) => Math.exp(logprob / Math.max(temperature, 1e-6)));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    choices = Array.from({ length: n }, (_, index) => {
      let u = draw() * total;
      let pick = 0;
      while (pick < weights.length - 1 && u >= weights[pick]) u -= weights[pick++];
      const number = read.options[pick].number;
      const garbage = draw() < garbageShare;
      const content = garbage ? `I think it is option ${number}` : json ? JSON.stringify({ answer: Number(number) }) : number;
      return { index, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' };
    });
  }
  const completion = {
    id: `chatcmpl-${textKey.slice(0, 12)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: args.name,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: choices.length, total_tokens: promptTokens + choices.length },
  };
  const text = JSON.stringify(completion);
  if (fault === 'truncated') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(text.slice(0, text.length >> 1));
  }
  send(response, 200, text);
}

const server = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
  if (request.method === 'GET' && path === '/stats') return send(response, 200, stats);
  stats.requests++;
  if (apiKey !== undefined && request.headers.authorization !== `Bearer ${apiKey}`) {
    return send(response, 401, openaiError('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key'));
  }
  if (request.method === 'GET' && path === '/v1/models')
    return send(response, 200, { object: 'list', data: [{ id: args.name, object: 'model', owned_by: 'kdkit' }] });
  if (request.method !== 'POST' || path !== '/v1/chat/completions')
    return send(response, 404, openaiError(`no route ${request.method} ${path}`, 'invalid_request_error', null));
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(response, 400, openaiError('the body is not JSON', 'invalid_request_error', null));
    }
    stats.chatRequests++;
    chat(response, body).catch((error) => send(response, 500, openaiError(String(error?.message ?? error), 'server_error', null)));
  });
});

server.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`llm-server: listening on http://127.0.0.1:${port}/v1 (model '${args.name}')`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
