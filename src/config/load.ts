/** Reading a config file from disk (Node); parse.ts parses its text, and runs anywhere. */
import { readRegularFile } from '../util/regular_file.js';
import { parseConfigText } from './parse.js';
import type { ExperimentConfig } from './schema.js';

/** A config is a page of YAML; anything far larger is not one, and parsing it would only cost memory. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads and validates a YAML config file. Every failure is an InputError naming the file. */
export function loadConfigFile(path: string): ExperimentConfig {
  const text = readRegularFile(path, MAX_CONFIG_BYTES, `${path}: cannot read config file`).toString('utf8');
  return parseConfigText(text, path);
}
