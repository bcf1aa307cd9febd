/** The deployment gate as console text: one line per check with its limit, value and verdict. */
import type { GateCheck, GateResult } from '../eval/gate.js';
import { bytes, formatTable, percent } from '../report/table.js';

export function formatGate(gate: GateResult): string {
  const judged = `${gate.model}, ${gate.quantization} weights, ${gate.runtime === 'tfjs' ? 'TensorFlow.js' : 'ONNX Runtime'}`;
  if (gate.checks.length === 0) return `deployment gate: no deploy: constraints (${judged})`;
  const rows = [
    ['check', 'measures', 'limit', 'measured', 'verdict'],
    ...gate.checks.map((check) => [check.name, check.measure, `${check.kind === 'max' ? '≤' : '≥'} ${formatValue(check, check.limit)}`, formatValue(check, check.value), check.passed ? 'pass' : 'FAIL']),
  ];
  return `deployment gate (${judged}): ${gate.passed ? 'PASSED' : 'FAILED'}\n${formatTable(rows)}`;
}

export function formatValue(check: Pick<GateCheck, 'unit'>, value: number): string {
  switch (check.unit) {
    case 'bytes': return bytes(value);
    case 'ms': return `${value.toFixed(3)} ms`;
    case 'fraction': return percent(value);
    case 'count': return value.toLocaleString('en-US');
  }
}
