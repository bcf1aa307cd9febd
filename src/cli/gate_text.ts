/** The deployment gate as console text: one line per check with its limit, value and verdict. */
import type { GateResult } from '../eval/gate.js';
import { formatTable, gateRows } from '../report/table.js';

export function formatGate(gate: GateResult): string {
  const judged = `${gate.model}, ${gate.quantization} weights, ${gate.runtime === 'tfjs' ? 'TensorFlow.js' : 'ONNX Runtime'}`;
  if (gate.checks.length === 0) return `deployment gate: no deploy: constraints (${judged})`;
  return `deployment gate (${judged}): ${gate.passed ? 'PASSED' : 'FAILED'}\n${formatTable(gateRows(gate))}`;
}
