import { basename, extname, join } from 'node:path';

/** Where `kdkit run CONFIG` writes without --out: runs/<config name>-seed<seed>. */
export function defaultRunDirectory(configPath: string, seed: number): string {
  return join('runs', `${basename(configPath, extname(configPath))}-seed${seed}`);
}
