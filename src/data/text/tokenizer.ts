/**
 * Hugging Face tokenizers (`tokenizer.json`: WordPiece, BPE or Unigram, with their normalizers,
 * pre-tokenizers and post-processors) through `@huggingface/tokenizers`, encoding texts into the
 * fixed-length named inputs a model takes: `input_ids`, `attention_mask` and, for BERT's
 * templates, `token_type_ids`, int32 [count, maxLength]. Truncation and padding are Hugging Face's
 * for a single sequence (truncation: longest_first, padding: right): a text too long keeps its first
 * tokens and the template's special tokens around them.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../errors.js';
import { readRegularFile } from '../../util/regular_file.js';
import type { InputField } from '../dataset.js';

/** The largest tokenizer.json kdkit reads (multilingual ones with 250,000 tokens are about 17 MB). */
export const MAX_TOKENIZER_BYTES = 256 * 2 ** 20;

/** The names of a text sample's fields. */
export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const TOKEN_TYPE_IDS = 'token_type_ids';

/** Post-processors whose encodings carry segment ids a BERT-style model takes as token_type_ids. */
const TYPE_ID_PROCESSORS = new Set(['BertProcessing', 'TemplateProcessing']);
/** Segments of BERT's templates: token_type_ids 0 and 1. */
export const TYPE_VOCABULARY = 2;
/** Padding tokens looked up when tokenizer.json has no padding section. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>'];

/** Texts encoded at one length, sample-major. */
export interface EncodedTexts {
  readonly [INPUT_IDS]: Int32Array;
  readonly [ATTENTION_MASK]: Int32Array;
  readonly [TOKEN_TYPE_IDS]?: Int32Array;
}

export class TextTokenizer {
  private readonly tokenizer: Tokenizer;
  /** Whether samples carry token_type_ids (BERT's templates). */
  readonly typeIds: boolean;
  readonly padId: number;
  /** One past the largest token id. */
  readonly vocabSize: number;

  /** `json` is a parsed tokenizer.json; `source` names it in errors; `description` says where it came from, for logs. */
  constructor(
    readonly json: Record<string, unknown>,
    readonly source: string,
    readonly description = source,
  ) {
    checkIds(json, source);
    try {
      this.tokenizer = new Tokenizer(json, {});
      // Ids are what an embedding indexes: one past the largest, should the vocabulary skip any.
      this.vocabSize = Math.max(-1, ...[...this.tokenizer.get_vocab(true).values()].filter(Number.isSafeInteger)) + 1;
    } catch (error) {
      throw new InputError(`${source}: not a tokenizer Hugging Face's tokenizers can load (${(error as Error).message})`);
    }
    if (this.vocabSize === 0) throw new InputError(`${source}: the tokenizer has no token ids`);
    const processor = json.post_processor as { type?: string } | null | undefined;
    this.typeIds = TYPE_ID_PROCESSORS.has(processor?.type ?? '');
    this.padId = padIdOf(json, this.tokenizer, source);
    if (!Number.isSafeInteger(this.padId) || this.padId < 0 || this.padId >= this.vocabSize) {
      throw new InputError(`${source}: the padding id ${this.padId} is not a token id (0 … ${this.vocabSize - 1})`);
    }
  }

  /** A tokenizer.json file. */
  static load(path: string, field: string): TextTokenizer {
    const text = readRegularFile(path, MAX_TOKENIZER_BYTES, `${field}: cannot read ${path}`).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new InputError(`${field}: ${path} is not JSON (${(error as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json) || !Object.hasOwn(json, 'model')) {
      throw new InputError(`${field}: ${path} is not a tokenizer.json (no 'model' section)`);
    }
    return new TextTokenizer(json as Record<string, unknown>, `${field}: ${path}`, path);
  }

  /** The fields of a sample at `maxLength` tokens. */
  fields(maxLength: number): InputField[] {
    const field = (name: string, vocabulary: number): InputField => ({ name, dtype: 'int32', shape: [maxLength], vocabulary });
    const fields = [field(INPUT_IDS, this.vocabSize), field(ATTENTION_MASK, 2)];
    return this.typeIds ? [...fields, field(TOKEN_TYPE_IDS, TYPE_VOCABULARY)] : fields;
  }

  /** One text's ids with its special tokens, cut to `maxLength` as Hugging Face truncates. */
  ids(text: string, maxLength: number): { ids: number[]; typeIds: number[] } {
    const full = this.encoding(text, true);
    if (full.ids.length <= maxLength) return { ids: full.ids, typeIds: full.token_type_ids };
    // The template's tokens stay; the text's own tokens are cut from the end.
    const content = this.encoding(text, false).ids;
    const before = prefixLength(full.ids, content);
    const specials = full.ids.length - content.length;
    if (specials >= maxLength) {
      throw new InputError(`${this.source}: maxLength ${maxLength} leaves no room for text beside the ${specials} special tokens`);
    }
    const keep = maxLength - specials;
    const cut = (values: number[]) => [...values.slice(0, before + keep), ...values.slice(before + content.length, full.ids.length)];
    return { ids: cut(full.ids), typeIds: cut(full.token_type_ids) };
  }

  /** The library's encoding; a tokenizer.json it cannot apply is an InputError naming it. */
  private encoding(text: string, specialTokens: boolean): { ids: number[]; token_type_ids: number[] } {
    let encoded: { ids: number[]; token_type_ids?: number[] | null };
    try {
      encoded = this.tokenizer.encode(text, { add_special_tokens: specialTokens, return_token_type_ids: true });
    } catch (error) {
      throw new InputError(`${this.source}: cannot encode ${JSON.stringify(text.slice(0, 40))} (${(error as Error).message})`);
    }
    const { ids } = encoded;
    if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0 && id < this.vocabSize)) {
      throw new InputError(`${this.source}: encoding ${JSON.stringify(text.slice(0, 40))} gave ids outside 0 … ${this.vocabSize - 1}`);
    }
    return { ids, token_type_ids: encoded.token_type_ids ?? ids.map(() => 0) };
  }

  /** Texts as sample-major int32 fields of `maxLength` tokens, padded on the right. */
  encode(texts: readonly string[], maxLength: number): EncodedTexts {
    const inputIds = new Int32Array(texts.length * maxLength).fill(this.padId);
    const attentionMask = new Int32Array(texts.length * maxLength);
    const tokenTypeIds = this.typeIds ? new Int32Array(texts.length * maxLength) : undefined;
    texts.forEach((text, sample) => {
      const { ids, typeIds } = this.ids(text, maxLength);
      const offset = sample * maxLength;
      inputIds.set(ids, offset);
      attentionMask.fill(1, offset, offset + ids.length);
      tokenTypeIds?.set(typeIds, offset);
    });
    return tokenTypeIds === undefined
      ? { [INPUT_IDS]: inputIds, [ATTENTION_MASK]: attentionMask }
      : { [INPUT_IDS]: inputIds, [ATTENTION_MASK]: attentionMask, [TOKEN_TYPE_IDS]: tokenTypeIds };
  }

  /** The padding token's text, e.g. '[PAD]' (what a tokenizer_config.json names as pad_token). */
  padToken(): string {
    return this.tokenizer.id_to_token(this.padId) ?? String(this.padId);
  }

  /** The text of `ids`, special tokens left out. */
  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: true });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

/** Token ids past this are not a vocabulary (the largest real ones hold about 256,000 tokens). */
export const MAX_TOKEN_ID = 2 ** 24;

/**
 * The ids a tokenizer.json gives its tokens (model.vocab's values, added_tokens' ids) are integers in
 * 0 … MAX_TOKEN_ID: the library sizes arrays by the largest, so one id of 2^53 took minutes.
 */
function checkIds(json: Record<string, unknown>, source: string): void {
  const model = json.model as { vocab?: unknown } | null;
  const ids: unknown[] = [];
  const vocab = model?.vocab;
  // Unigram's vocab is a list of [token, score], ids by position; the others map token to id.
  if (vocab !== null && typeof vocab === 'object' && !Array.isArray(vocab)) ids.push(...Object.values(vocab));
  if (Array.isArray(vocab)) {
    if (vocab.length > MAX_TOKEN_ID) ids.push(vocab.length);
    const entry = vocab.findIndex((item) => !(Array.isArray(item) && typeof item[0] === 'string' && Number.isFinite(item[1])));
    if (entry !== -1) throw new InputError(`${source}: model.vocab[${entry}] is not a [token, score] pair`);
  }
  if (Array.isArray(json.added_tokens)) ids.push(...json.added_tokens.map((token) => (token as { id?: unknown } | null)?.id));
  const bad = ids.find((id) => !(Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) < MAX_TOKEN_ID));
  if (bad !== undefined || ids.includes(undefined)) {
    throw new InputError(`${source}: a token id ${JSON.stringify(bad)} is not an integer in 0 … ${MAX_TOKEN_ID - 1}`);
  }
}

/** Where `content` starts inside `full` (the template's tokens before the text). */
function prefixLength(full: readonly number[], content: readonly number[]): number {
  for (let start = 0; start + content.length <= full.length; start++) {
    if (content.every((id, i) => full[start + i] === id)) return start;
  }
  throw new Error('the encoding with special tokens does not contain the one without');
}

function padIdOf(json: Record<string, unknown>, tokenizer: Tokenizer, source: string): number {
  const padding = json.padding as { pad_id?: unknown } | null | undefined;
  if (typeof padding?.pad_id === 'number') return padding.pad_id;
  for (const token of PAD_TOKENS) {
    const id = tokenizer.token_to_id(token);
    if (id !== undefined) return id;
  }
  throw new InputError(`${source}: no padding token (no 'padding' section, and none of ${PAD_TOKENS.join(', ')} is in the vocabulary)`);
}
