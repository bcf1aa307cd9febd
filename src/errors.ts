/**
 * Errors the user can fix: bad usage, config or input. The CLI prints the message without a
 * stack trace and exits with code 2. The message names the field or file and what was expected.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(message: string) {
    super(message);
  }
}

/** The deployment gate refused the student (exit code 3). */
export class GateError extends Error {
  override readonly name = 'GateError';
}
