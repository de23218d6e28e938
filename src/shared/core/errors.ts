/**
 * An expected failure: the CLI prints its message as one line (no stack trace) and exits with
 * `exitCode`. The message says what happened and what to do next.
 */
export class UserError extends Error {
  override readonly name = "UserError";
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}
