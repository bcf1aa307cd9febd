import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateGate, type GateFigures } from './gate.js';

const figures: GateFigures = {
  sizeBytes: 150_000,
  latencyP95Ms: 2.5,
  accuracy: 0.87,
  teacherAccuracy: 0.92,
  params: 90_000,
  macs: 200_000,
  memoryBytes: 400_000,
  agreement: 0.9,
};
const judged = { model: 'student', quantization: 'uint8', runtime: 'tfjs' } as const;

test('each limit is checked against its figure; a limit equal to the value passes', () => {
  const gate = evaluateGate(
    { maxSizeBytes: 200_000, maxLatencyMs: 2, minAccuracy: 0.87, maxAccuracyDrop: 0.03, maxParams: 90_000 },
    figures,
    judged,
  );
  assert.deepEqual(
    gate.checks.map((check) => [check.name, check.kind, check.limit, check.passed]),
    [
      ['maxSizeBytes', 'max', 200_000, true],
      ['maxLatencyMs', 'max', 2, false],
      ['minAccuracy', 'min', 0.87, true],
      ['maxAccuracyDrop', 'max', 0.03, false],
      ['maxParams', 'max', 90_000, true],
    ],
  );
  assert.ok(Math.abs(gate.checks[3].value - 0.05) < 1e-12, 'drop = 0.92 − 0.87');
  assert.equal(gate.checks[1].value, 2.5);
  assert.equal(gate.passed, false);
  assert.equal(gate.quantization, 'uint8');
});

test('a gate with loose limits passes; one without limits passes with no checks', () => {
  const loose = evaluateGate(
    { maxSizeBytes: 1e7, maxLatencyMs: 100, minAccuracy: 0.5, maxMacs: 1e9, maxMemoryBytes: 1e9, minAgreement: 0.8 },
    figures,
    judged,
  );
  assert.equal(loose.passed, true);
  assert.deepEqual(
    loose.checks.map((check) => check.unit),
    ['bytes', 'ms', 'fraction', 'count', 'bytes', 'fraction'],
  );
  assert.deepEqual(evaluateGate({}, figures, judged), { ...judged, passed: true, checks: [] });
});
