/**
 * A WordPiece vocabulary learned from a training split, written as the tokenizer.json of BERT's
 * uncased (or cased) pipeline, which Hugging Face's tokenizers load: BertNormalizer,
 * BertPreTokenizer, WordPiece with the '##' continuation prefix, `[CLS] $A [SEP]`.
 *
 * It learns as Hugging Face's WordPieceTrainer does (tokenizers, models/wordpiece/trainer.rs,
 * which trains BPE with the '##' prefix): the special tokens, then every character of the
 * words (the `limitAlphabet` most frequent), then merges. Each merge takes the most frequent
 * pair of adjacent symbols over the corpus' words, weighted by how often each word occurs, and
 * adds their join (the second's '##' dropped) until the vocabulary has `vocabSize` tokens or no
 * pair occurs `minFrequency` times. Ties go to the pair of smaller ids, as in Hugging Face's heap.
 * Words are the normalized, pre-tokenized training texts, through @huggingface/tokenizers' own
 * BertNormalizer and BertPreTokenizer, so the words learned from are the words encoded.
 */
import { Tokenizer } from '@huggingface/tokenizers';

export interface WordPieceOptions {
  /** Tokens in the vocabulary, special tokens included. */
  vocabSize: number;
  /** Lowercase and strip accents (BERT uncased). */
  lowercase: boolean;
  /** Fewest occurrences of a pair for it to be merged. */
  minFrequency: number;
  /** Characters kept in the initial alphabet: the most frequent ones. */
  limitAlphabet: number;
}

/** BertWordPieceTokenizer.train's defaults, with a vocabulary for small students. */
export const WORDPIECE_DEFAULTS: WordPieceOptions = { vocabSize: 8000, lowercase: true, minFrequency: 2, limitAlphabet: 1000 };

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const PREFIX = '##';

/** BERT's tokenizer.json around `vocab` (token → id). */
export function bertTokenizerJson(vocab: Record<string, number>, lowercase: boolean): Record<string, unknown> {
  const specialToken = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [specialToken('[CLS]', 0), sequence('A', 0), specialToken('[SEP]', 0)],
      pair: [specialToken('[CLS]', 0), sequence('A', 0), specialToken('[SEP]', 0), sequence('B', 1), specialToken('[SEP]', 1)],
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((token) => [token, { id: token, ids: [vocab[token]], tokens: [token] }])),
    },
    decoder: { type: 'WordPiece', prefix: PREFIX, cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: PREFIX, max_input_chars_per_word: 100, vocab },
  };
}

/** Each word of the normalized, pre-tokenized texts and how often it occurs, in first-seen order. */
export function wordCounts(texts: Iterable<string>, lowercase: boolean): Map<string, number> {
  const specials = Object.fromEntries(SPECIAL_TOKENS.map((token, id) => [token, id]));
  const pipeline = new Tokenizer(bertTokenizerJson(specials, lowercase), {});
  const counts = new Map<string, number>();
  for (const text of texts) {
    const normalized = pipeline.normalizer === null ? text : pipeline.normalizer.normalize(text);
    const words = pipeline.pre_tokenizer === null ? [normalized] : pipeline.pre_tokenizer.pre_tokenize(normalized);
    for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** The vocabulary (token → id) WordPiece learns from `texts`. */
export function trainWordPiece(texts: Iterable<string>, options: WordPieceOptions): Record<string, number> {
  const counts = wordCounts(texts, options.lowercase);
  const tokens: string[] = [...SPECIAL_TOKENS];
  const ids = new Map(tokens.map((token, id) => [token, id]));
  const idOf = (token: string) => {
    let id = ids.get(token);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(token);
      ids.set(token, id);
    }
    return id;
  };

  for (const character of alphabet(counts, options.limitAlphabet)) idOf(character);
  const known = new Set(tokens);
  const words: number[][] = [];
  const weights: number[] = [];
  for (const [word, count] of counts) {
    const symbols: number[] = [];
    [...word].forEach((character, position) => {
      if (known.has(character)) symbols.push(idOf(position === 0 ? character : PREFIX + character));
    });
    words.push(symbols);
    weights.push(count);
  }

  const pairs = new PairCounts();
  words.forEach((symbols, word) => {
    pairs.addWord(symbols, weights[word], word);
  });
  while (tokens.length < options.vocabSize) {
    const best = pairs.popBest(Math.max(1, options.minFrequency));
    if (best === undefined) break;
    const [left, right] = best;
    const rightText = tokens[right].startsWith(PREFIX) ? tokens[right].slice(PREFIX.length) : tokens[right];
    const merged = idOf(tokens[left] + rightText);
    for (const word of pairs.wordsWith(left, right)) {
      const symbols = words[word];
      pairs.addWord(symbols, -weights[word], word);
      words[word] = mergeSymbols(symbols, left, right, merged);
      pairs.addWord(words[word], weights[word], word);
    }
  }
  return Object.fromEntries(tokens.map((token, id) => [token, id]));
}

/** The characters of the words, the `limit` most frequent, in code point order. */
function alphabet(counts: Map<string, number>, limit: number): string[] {
  const characters = new Map<string, number>();
  for (const [word, count] of counts) for (const character of word) characters.set(character, (characters.get(character) ?? 0) + count);
  const byFrequency = [...characters].sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!);
  return byFrequency
    .slice(0, limit)
    .map(([character]) => character)
    .sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

/** `symbols` with each non-overlapping (left, right), from the left, replaced by `merged`. */
function mergeSymbols(symbols: readonly number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === left && symbols[i + 1] === right) {
      out.push(merged);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}

/**
 * Weighted counts of adjacent symbol pairs, the words each occurs in, and a max-heap of
 * (count, pair) entries that may be stale: an entry is used only while its count is current,
 * and one whose count fell is pushed again at its new count (Hugging Face's trainer does the same).
 */
class PairCounts {
  private readonly counts = new Map<number, number>();
  private readonly words = new Map<number, Set<number>>();
  private readonly heap: [count: number, key: number][] = [];

  /** Adds `weight` (negative to remove) for each pair of `symbols`, which is word `word`. */
  addWord(symbols: readonly number[], weight: number, word: number): void {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      const count = (this.counts.get(key) ?? 0) + weight;
      this.counts.set(key, count);
      if (weight > 0) {
        let words = this.words.get(key);
        if (words === undefined) {
          words = new Set();
          this.words.set(key, words);
        }
        words.add(word);
        this.push([count, key]);
      }
    }
  }

  /** The words that may hold (left, right); merging checks each. */
  wordsWith(left: number, right: number): number[] {
    const key = pairKey(left, right);
    const words = [...(this.words.get(key) ?? [])];
    this.words.delete(key);
    return words;
  }

  /** The most frequent pair (ties: smaller ids first) occurring at least `minCount` times, removed. */
  popBest(minCount: number): [number, number] | undefined {
    while (this.heap.length > 0) {
      const [count, key] = this.pop();
      const current = this.counts.get(key) ?? 0;
      // A pair whose words were merged since the entry was pushed: back in at its count now.
      if (current !== count) {
        if (current > 0) this.push([current, key]);
        continue;
      }
      if (count < minCount) return undefined;
      return [Math.floor(key / PAIR_BASE), key % PAIR_BASE];
    }
    return undefined;
  }

  private push(entry: [number, number]): void {
    const heap = this.heap;
    heap.push(entry);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): [number, number] {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let first = i;
        if (left < heap.length && before(heap[left], heap[first])) first = left;
        if (right < heap.length && before(heap[right], heap[first])) first = right;
        if (first === i) break;
        [heap[i], heap[first]] = [heap[first], heap[i]];
        i = first;
      }
    }
    return top;
  }
}

/** Ids stay below this (2^26 tokens), so a pair is one exact number. */
const PAIR_BASE = 2 ** 26;

function pairKey(left: number, right: number): number {
  return left * PAIR_BASE + right;
}

/** Higher count first; equal counts: the smaller pair. */
function before(a: [number, number], b: [number, number]): boolean {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] < b[1];
}
