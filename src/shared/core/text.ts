/**
 * Text from another program or a file, made safe to print on a terminal: control characters
 * (escape sequences above all) become `?`, and the length is bounded.
 * @example printable("\u001b[2Jhi") // "?[2Jhi"
 */
export function printable(text: string, maxLength = 512): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}...` : clean;
}

/**
 * `text` as a regular expression that matches exactly it, for building a pattern around a
 * literal (a marker line, a path).
 * @example new RegExp(`^${escapeRegExp("a.b")}$`).test("axb") // false
 */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
