/**
 * A check of a functional model's layer graph in model.json before TensorFlow.js builds it.
 * tfjs-layers' Container.fromConfig loops until every layer's inbound nodes are connected; a node
 * that names a missing layer, a node index that never exists, or a cycle makes it loop forever
 * (found by src/fuzz/model_json.fuzz.test.ts). This replays that loop and stops when it stalls.
 */
import { InputError } from '../errors.js';

/** One call of a layer: its inputs, each [layer name, node index, tensor index, kwargs]. */
type InboundNode = unknown[][];

/** Checks every functional model in `topology` (nested ones too); an InputError naming `source` when one cannot be connected. */
export function checkTopology(topology: unknown, source: string): void {
  if (typeof topology !== 'object' || topology === null) return;
  if (Array.isArray(topology)) {
    for (const item of topology) checkTopology(item, source);
    return;
  }
  const { class_name: className, config } = topology as Record<string, unknown>;
  if ((className === 'Model' || className === 'Functional') && typeof config === 'object' && config !== null) {
    checkFunctional(config as Record<string, unknown>, source);
  }
  for (const value of Object.values(topology)) checkTopology(value, source);
}

function checkFunctional(config: Record<string, unknown>, source: string): void {
  const fail = (reason: string) => new InputError(`${source}: modelTopology cannot be connected: ${reason}`);
  if (!Array.isArray(config.layers)) throw fail('config.layers is not an array');
  const nodeCounts = new Map<string, number>();
  const pending = new Map<string, InboundNode[]>();
  for (const layer of config.layers as unknown[]) {
    const {
      name,
      class_name: className,
      config: layerConfig,
      inbound_nodes: inbound,
    } = (typeof layer === 'object' && layer !== null ? layer : {}) as Record<string, unknown>;
    if (typeof name !== 'string' || nodeCounts.has(name)) throw fail(`layer names must be unique strings, got ${JSON.stringify(name)}`);
    // tfjs keys its bookkeeping by the layer's own config name; a different one never connects.
    const configName = (layerConfig as { name?: unknown } | null | undefined)?.name;
    if (configName !== undefined && configName !== name) throw fail(`layer '${name}' has config.name ${JSON.stringify(configName)}`);
    if (!Array.isArray(inbound) || !inbound.every((node) => Array.isArray(node) && node.every(Array.isArray))) {
      throw fail(`layer '${name}': inbound_nodes must be a list of lists of [layer, node, tensor] entries`);
    }
    // An InputLayer has its one node from the start; every other layer gains one per connected call.
    nodeCounts.set(name, className === 'InputLayer' ? 1 : 0);
    pending.set(name, inbound as InboundNode[]);
  }
  let progress = true;
  while (progress && [...pending.values()].some((nodes) => nodes.length > 0)) {
    progress = false;
    for (const [name, nodes] of pending) {
      const ready = nodes.filter((node) =>
        node.every(
          ([inbound, nodeIndex]) =>
            typeof inbound === 'string' && typeof nodeIndex === 'number' && nodeIndex < (nodeCounts.get(inbound) ?? 0),
        ),
      );
      if (ready.length === 0) continue;
      pending.set(
        name,
        nodes.filter((node) => !ready.includes(node)),
      );
      nodeCounts.set(name, nodeCounts.get(name)! + ready.filter((node) => node.length > 0).length);
      progress = true;
    }
  }
  const stuck = [...pending].find(([, nodes]) => nodes.length > 0);
  if (stuck)
    throw fail(
      `layer '${stuck[0]}' takes input from ${JSON.stringify(stuck[1][0]).slice(0, 200)}, which no layer provides (a missing layer, node index or a cycle)`,
    );
}
