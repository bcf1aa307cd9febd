import { InputError } from '../errors.js';

/**
 * A name → value table written once for every pluggable kind (methods, model types, schedules).
 * Registration is explicit; a duplicate name throws, and an unknown name lists the known ones.
 */
export class Registry<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly kind: string) {}

  register(name: string, value: T): this {
    if (this.entries.has(name)) throw new Error(`${this.kind} '${name}' is already registered`);
    this.entries.set(name, value);
    return this;
  }

  /** Looks a name up; `field` names the config field for the error message. */
  get(name: string, field = this.kind): T {
    const value = this.entries.get(name);
    if (value === undefined) {
      throw new InputError(`${field}: unknown ${this.kind} '${name}'; known: ${this.names().join(', ')}`);
    }
    return value;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
}
