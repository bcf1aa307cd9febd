import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paretoFront } from './pareto.js';

const names = (points: { name: string }[]) => points.map((point) => point.name);

test('the front keeps the non-dominated points, cheapest first', () => {
  const points = [
    { name: 'teacher', cost: 1.84, accuracy: 0.99 },
    { name: 'student', cost: 0.41, accuracy: 0.96 },
    // Slower and less accurate than the student.
    { name: 'scratch', cost: 0.42, accuracy: 0.94 },
    { name: 'assistant', cost: 0.93, accuracy: 0.97 },
  ];
  assert.deepEqual(names(paretoFront(points)), ['student', 'assistant', 'teacher']);
});

test('equal cost: the more accurate dominates; equal accuracy: the cheaper dominates', () => {
  const points = [
    { name: 'student', cost: 53_000, accuracy: 0.96 },
    { name: 'scratch', cost: 53_000, accuracy: 0.94 },
    { name: 'wide', cost: 90_000, accuracy: 0.96 },
    { name: 'teacher', cost: 800_000, accuracy: 0.99 },
  ];
  assert.deepEqual(names(paretoFront(points)), ['student', 'teacher']);
});

test('exact ties dominate neither, so both stay on the front', () => {
  const points = [
    { name: 'b', cost: 2, accuracy: 0.9 },
    { name: 'a', cost: 2, accuracy: 0.9 },
    { name: 'c', cost: 1, accuracy: 0.8 },
  ];
  assert.deepEqual(names(paretoFront(points)), ['c', 'b', 'a']);
});

test('one point is its own front, and no points give no front', () => {
  assert.deepEqual(names(paretoFront([{ name: 'only', cost: 5, accuracy: 0.5 }])), ['only']);
  assert.deepEqual(paretoFront([]), []);
});
