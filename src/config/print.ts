/**
 * A parsed config written back in the form `kdkit run` reads, for `--dry-run`: every default filled
 * in, each term's options inline again. parseConfig(configInput(config)) deep-equals config.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import type { ExperimentConfig, ExperimentInput, TermConfig, termSpec } from './schema.js';

export function configInput(config: ExperimentConfig): ExperimentInput {
  const { terms, preset, ...training } = config.distill;
  return {
    ...config,
    // A preset is kept by name: parsing it again expands it into the same terms.
    distill: preset === undefined ? { ...training, terms: terms.map(termInput) } : { ...training, preset },
    stages: config.stages.map((stage) => ({ ...stage, terms: stage.terms.map(termInput) })),
  };
}

/** The config as YAML that `kdkit run` accepts. */
export function formatConfig(config: ExperimentConfig): string {
  return stringify(configInput(config));
}

/** A term as the config writes it: `{method: kd, weight: 0.9, temperature: 4}`. */
export function termInput({ method, weight, options }: TermConfig): z.input<typeof termSpec> {
  return { method, weight, ...options };
}
