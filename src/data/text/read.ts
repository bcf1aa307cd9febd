/**
 * Labelled texts from a user's file: `.csv` and `.tsv` with a header row (quoted fields may hold
 * delimiters, doubled quotes and line breaks; parsed by csv-parse), or `.jsonl`, one JSON object a
 * line. The file must be UTF-8; a byte-order mark is dropped, and Windows line breaks (CRLF) read
 * as '\n'. Every problem is an InputError that names the file, the line a record starts on and
 * the field: a missing column, an empty text or label, a malformed record.
 */
import { isUtf8 } from 'node:buffer';
import { extname } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { InputError } from '../../errors.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../../util/regular_file.js';

export const TEXT_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export type TextFormat = (typeof TEXT_FORMATS)[number];

/** Which fields of each record hold the text and the label (null: labels are not read, and may be absent). */
export interface TextFields {
  textField: string;
  labelField: string | null;
}

/** The records of one file, in file order. */
export interface TextRecords {
  readonly texts: string[];
  /** Each record's label as written (a number in JSONL becomes its decimal string); '' when labels are not read. */
  readonly labels: string[];
  /** The 1-based line each record starts on, for messages. */
  readonly lines: number[];
}

/** The format a file's extension names (`.ndjson` is JSONL); anything else is an InputError. */
export function textFormatOf(path: string, field: string): TextFormat {
  const extension = extname(path).toLowerCase().slice(1);
  if (extension === 'ndjson') return 'jsonl';
  if ((TEXT_FORMATS as readonly string[]).includes(extension)) return extension as TextFormat;
  throw new InputError(`${field}: ${path}: cannot tell the format from '.${extension}'; text files are .csv, .tsv or .jsonl`);
}

/** Reads the records of `path` (whose format its extension gives). */
export function readTextRecords(path: string, fields: TextFields, field: string): TextRecords {
  const bytes = readRegularFile(path, MAX_WHOLE_FILE_BYTES, `${field}: cannot read ${path}`);
  const text = decodeUtf8(bytes, path);
  const format = textFormatOf(path, field);
  return format === 'jsonl' ? parseJsonl(text, path, fields) : parseDelimited(text, format === 'tsv' ? '\t' : ',', path, fields);
}

/** The bytes as text; invalid UTF-8 is an InputError naming the first line that holds it. */
function decodeUtf8(bytes: Buffer, path: string): string {
  if (!isUtf8(bytes)) {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      const lineBytes = bytes.subarray(start, end === -1 ? bytes.length : end);
      if (!isUtf8(lineBytes) || end === -1) {
        throw new InputError(`${path} line ${line}: not valid UTF-8; save the file as UTF-8`);
      }
      start = end + 1;
    }
  }
  // Windows line breaks read as '\n', inside quoted fields too: csv-parse counts lines of CRLF files wrongly.
  const text = bytes.toString('utf8').replaceAll('\r\n', '\n');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function parseDelimited(text: string, delimiter: string, path: string, fields: TextFields): TextRecords {
  let rows: { record: string[]; raw: string; info: { lines: number } }[];
  try {
    rows = parse(text, {
      delimiter,
      info: true,
      raw: true,
      skip_empty_lines: true,
      // A quote inside an unquoted field is text (as Python's csv reads it); an unclosed quoted field is still an error.
      relax_quotes: true,
    }) as unknown as typeof rows;
  } catch (error) {
    if (error instanceof CsvError) throw new InputError(`${path}: ${error.message}`);
    throw error;
  }
  if (rows.length === 0) throw new InputError(`${path}: the file is empty; expected a header row naming the columns`);
  const header = rows[0].record;
  const column = (name: string, option: string) => {
    const index = header.indexOf(name);
    if (index === -1) {
      throw new InputError(
        `${path}: no column '${name}' in the header (columns: ${header.map((each) => `'${each}'`).join(', ')}); set ${option}`,
      );
    }
    return index;
  };
  const textColumn = column(fields.textField, 'dataset.textField');
  const labelColumn = fields.labelField === null ? -1 : column(fields.labelField, 'dataset.labelField');
  const records: TextRecords = { texts: [], labels: [], lines: [] };
  for (const { record, raw, info } of rows.slice(1)) {
    add(records, record[textColumn], labelColumn === -1 ? null : record[labelColumn], startLine(raw, info.lines), path, fields);
  }
  return records;
}

/**
 * The line a record starts on, from the line it ends on and its raw text (which begins with the
 * blank lines skipped before it and ends with its line break).
 */
function startLine(raw: string, endLine: number): number {
  const own = raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
  let breaks = 0;
  for (let at = own.indexOf('\n'); at !== -1; at = own.indexOf('\n', at + 1)) breaks++;
  return endLine - breaks;
}

function parseJsonl(text: string, path: string, fields: TextFields): TextRecords {
  const records: TextRecords = { texts: [], labels: [], lines: [] };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new InputError(`${path} line ${line}: not valid JSON (${(error as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const wanted = fields.labelField === null ? `'${fields.textField}'` : `'${fields.textField}' and '${fields.labelField}'`;
      throw new InputError(`${path} line ${line}: expected a JSON object with ${wanted}`);
    }
    const object = value as Record<string, unknown>;
    add(
      records,
      jsonField(object, fields.textField, 'string', line, path),
      fields.labelField === null ? null : jsonField(object, fields.labelField, 'label', line, path),
      line,
      path,
      fields,
    );
  });
  return records;
}

function jsonField(object: Record<string, unknown>, name: string, kind: 'string' | 'label', line: number, path: string): string {
  if (!Object.hasOwn(object, name)) {
    throw new InputError(
      `${path} line ${line}: no field '${name}' (fields: ${
        Object.keys(object)
          .map((key) => `'${key}'`)
          .join(', ') || 'none'
      })`,
    );
  }
  const value = object[name];
  if (typeof value === 'string') return value;
  if (kind === 'label' && typeof value === 'number' && Number.isInteger(value)) return String(value);
  const expected = kind === 'label' ? 'a string or an integer' : 'a string';
  throw new InputError(`${path} line ${line}: field '${name}' is ${JSON.stringify(value)}, expected ${expected}`);
}

/** Appends one record; `label` is null when labels are not read. */
function add(records: TextRecords, text: string, label: string | null, line: number, path: string, fields: TextFields): void {
  if (text.trim() === '') throw new InputError(`${path} line ${line}: field '${fields.textField}' is empty`);
  if (label !== null && label.trim() === '') throw new InputError(`${path} line ${line}: field '${fields.labelField}' is empty`);
  records.texts.push(text);
  records.labels.push(label?.trim() ?? '');
  records.lines.push(line);
}
