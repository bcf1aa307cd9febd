import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { digitsTestIndices, loadDigits, loadDigitsAll, parseDigitsCsv } from './digits.js';
import { allPixels, imageShape } from './dataset.js';

// Class counts of the UCI optdigits test set, as listed in UCI's optdigits.names.
const CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];
// round(20% of each): 35.6→36, 36.4→36, 35.4→35, 36.6→37, 36.2→36, 36.4→36, 36.2→36, 35.8→36, 34.8→35, 36→36.
const TEST_COUNTS = [36, 36, 35, 37, 36, 36, 36, 36, 35, 36];

function countClasses(labels: Int32Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

describe('digits', () => {
  const all = loadDigitsAll();

  it('has 1797 samples of 8×8×1 in 10 classes', () => {
    assert.equal(all.labels.length, 1797);
    assert.equal(allPixels(all).length, 1797 * 64);
    assert.deepEqual(imageShape(all), [8, 8, 1]);
    assert.equal(all.numClasses, 10);
    assert.deepEqual(all.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(countClasses(all.labels), CLASS_COUNTS);
  });

  it('scales pixel counts 0..16 to [0, 1] in steps of 1/16', () => {
    // First CSV line starts 0,0,5,13,9,1 and its label is 0.
    assert.deepEqual(Array.from(allPixels(all).subarray(0, 6)), [0, 0, 5 / 16, 13 / 16, 9 / 16, 1 / 16]);
    assert.equal(all.labels[0], 0);
    let min = Infinity;
    let max = -Infinity;
    for (const pixel of allPixels(all)) {
      assert.ok(Number.isInteger(pixel * 16), `pixel ${pixel} is not a multiple of 1/16`);
      min = Math.min(min, pixel);
      max = Math.max(max, pixel);
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
  });

  it('holds out a stratified 20% test set: 359 test, 1438 train, disjoint, covering all', () => {
    const { train, test } = loadDigits();
    assert.equal(train.name, 'digits/train');
    assert.equal(test.name, 'digits/test');
    assert.equal(test.labels.length, 359);
    assert.equal(train.labels.length, 1438);
    assert.deepEqual(countClasses(test.labels), TEST_COUNTS);
    assert.deepEqual(
      countClasses(train.labels),
      CLASS_COUNTS.map((count, label) => count - TEST_COUNTS[label]),
    );

    const testIndices = digitsTestIndices(all.labels, 10);
    assert.equal(new Set(testIndices).size, 359);
    for (let i = 1; i < testIndices.length; i++) assert.ok(testIndices[i - 1] < testIndices[i], 'test indices are in file order');
    // The test part is exactly the samples at testIndices, in that order.
    testIndices.forEach((source, position) => {
      assert.equal(test.labels[position], all.labels[source]);
      assert.deepEqual(
        allPixels(test).subarray(position * 64, (position + 1) * 64),
        allPixels(all).subarray(source * 64, (source + 1) * 64),
      );
    });
  });
});

describe('parseDigitsCsv', () => {
  const pixels = new Array<string>(64).fill('0');
  const line = (fields: string[]) => fields.join(',');

  it('parses rows and ignores a trailing newline', () => {
    const parsed = parseDigitsCsv(`${line([...pixels.slice(1), '16', '3'])}\n`, 'x.csv');
    assert.equal(parsed.labels.length, 1);
    assert.equal(parsed.labels[0], 3);
    assert.equal(allPixels(parsed)[63], 1);
  });

  for (const [what, fields, fragment] of [
    ['too few fields', [...pixels], 'has 64 fields'],
    ['pixel above 16', [...pixels.slice(1), '17', '3'], "field 64 is '17'"],
    ['label above 9', [...pixels, '10'], "field 65 is '10'"],
    ['non-integer', ['1.5', ...pixels.slice(1), '3'], "field 1 is '1.5'"],
    ['empty field', ['', ...pixels.slice(1), '3'], "field 1 is ''"],
  ] as const) {
    it(`rejects ${what}, naming the file and line`, () => {
      assert.throws(
        () => parseDigitsCsv(line([...fields]), 'bad.csv'),
        (error: unknown) => {
          assert.ok(error instanceof InputError);
          assert.ok(error.message.includes('bad.csv: line 1'), error.message);
          assert.ok(error.message.includes(fragment), error.message);
          return true;
        },
      );
    });
  }
});
