/** The Pareto front of a trade-off between a cost (latency, size: lower is better) and accuracy (higher is better). */

export interface TradeoffPoint {
  name: string;
  cost: number;
  accuracy: number;
}

/**
 * The points no other point dominates, by cost ascending. A point is dominated when another costs no
 * more and is no less accurate, and is strictly better in one of the two; exact ties dominate neither,
 * so both stay on the front.
 */
export function paretoFront<T extends TradeoffPoint>(points: readonly T[]): T[] {
  const dominates = (better: T, worse: T) =>
    better.cost <= worse.cost && better.accuracy >= worse.accuracy && (better.cost < worse.cost || better.accuracy > worse.accuracy);
  return points
    .filter((point) => !points.some((other) => dominates(other, point)))
    .sort((a, b) => a.cost - b.cost || b.accuracy - a.accuracy);
}
