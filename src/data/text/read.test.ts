import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InputError } from '../../errors.js';
import { readTextRecords } from './read.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-text-'));
const fields = { textField: 'text', labelField: 'label' };

function file(name: string, content: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

function rejects(name: string, content: string | Buffer, message: RegExp): void {
  const path = file(name, content);
  assert.throws(
    () => readTextRecords(path, fields, 'dataset.train'),
    (error: unknown) => error instanceof InputError && message.test(error.message),
    `${name}: expected ${message}`,
  );
}

describe('readTextRecords', () => {
  it('reads CSV with quoting, doubled quotes, line breaks in a field, a BOM, CRLF and blank lines', () => {
    const path = file(
      'quoted.csv',
      '\uFEFFid,text,label\r\n1,"Hello, world",greeting\r\n\r\n2,"She said ""hi""\r\nand left",story\r\n3,a stray " quote,other\r\n',
    );
    const records = readTextRecords(path, fields, 'dataset.train');
    assert.deepEqual(records.texts, ['Hello, world', 'She said "hi"\nand left', 'a stray " quote']);
    assert.deepEqual(records.labels, ['greeting', 'story', 'other']);
    // Line 3 is blank; the second record spans lines 4 and 5.
    assert.deepEqual(records.lines, [2, 4, 6]);
  });

  it('reads TSV and JSONL (an integer label is its decimal string), UTF-8 kept', () => {
    const tsv = readTextRecords(file('a.tsv', 'label\ttext\nx\tcafé, crème\ny\t我的卡\n'), fields, 'dataset.train');
    assert.deepEqual(tsv.texts, ['café, crème', '我的卡']);
    assert.deepEqual(tsv.labels, ['x', 'y']);
    const jsonl = readTextRecords(
      file('a.jsonl', '{"text": "one", "label": 3}\n\n{"label": "b", "text": "two 💳", "extra": 1}\n'),
      fields,
      'dataset.train',
    );
    assert.deepEqual(jsonl.texts, ['one', 'two 💳']);
    assert.deepEqual(jsonl.labels, ['3', 'b']);
    assert.deepEqual(jsonl.lines, [1, 3]);
  });

  it('names the file, line and field of every bad record', () => {
    rejects(
      'nocolumn.csv',
      'sentence,label\nhi,x\n',
      /nocolumn\.csv: no column 'text' in the header \(columns: 'sentence', 'label'\); set dataset\.textField/,
    );
    rejects('nolabel.csv', 'text,category\nhi,x\n', /no column 'label' .*set dataset\.labelField/);
    rejects('emptytext.csv', 'text,label\nhi,x\n"  ",y\n', /emptytext\.csv line 3: field 'text' is empty/);
    rejects('emptylabel.csv', 'text,label\nhi,x\nthere,\n', /emptylabel\.csv line 3: field 'label' is empty/);
    rejects('length.csv', 'text,label\nhi,x\nthere,y,z\n', /length\.csv: Invalid Record Length.* line 3/);
    rejects('unclosed.csv', 'text,label\n"hi,x\n', /unclosed\.csv: Quote Not Closed/);
    rejects('empty.csv', '', /empty\.csv: the file is empty; expected a header row/);
    rejects('json.jsonl', '{"text": "a", "label": "x"}\n{"text": "b", \n', /json\.jsonl line 2: not valid JSON/);
    rejects('array.jsonl', '["a", "x"]\n', /array\.jsonl line 1: expected a JSON object with 'text' and 'label'/);
    rejects(
      'field.jsonl',
      '{"text": "a", "label": "x"}\n{"sentence": "b", "label": "x"}\n',
      /field\.jsonl line 2: no field 'text' \(fields: 'sentence', 'label'\)/,
    );
    rejects('type.jsonl', '{"text": 5, "label": "x"}\n', /type\.jsonl line 1: field 'text' is 5, expected a string/);
    rejects('float.jsonl', '{"text": "a", "label": 1.5}\n', /float\.jsonl line 1: field 'label' is 1\.5, expected a string or an integer/);
    rejects(
      'latin1.csv',
      Buffer.concat([Buffer.from('text,label\nok,x\ncaf'), Buffer.from([0xe9]), Buffer.from(',y\n')]),
      /latin1\.csv line 3: not valid UTF-8/,
    );
    rejects(
      'data.txt',
      'text,label\n',
      /dataset\.train: .*data\.txt: cannot tell the format from '\.txt'; text files are \.csv, \.tsv or \.jsonl/,
    );
  });
});
