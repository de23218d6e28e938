/**
 * The code points that must never reach a terminal from data: C0 controls (ESC, BEL, CR, the
 * newline that forges a line), DEL, C1 controls (U+0080-U+009F: U+009B is a one-byte CSI and
 * U+0085 a newline to some terminals), and the invisible ones that change what a reader sees:
 * bidirectional overrides, embeddings and isolates (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F,
 * U+061C), zero-width characters and invisible operators (U+200B-U+200D, U+2060-U+2064, U+FEFF),
 * line and paragraph separators (U+2028/U+2029), interlinear annotation (U+FFF9-U+FFFB), and
 * a lone surrogate half (not text at all).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The same set less C0 controls, which JSON.stringify escapes itself (and uses for layout). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * Text from another program, an agent or a file, made safe to print on a terminal as one line:
 * every unsafe code point (see UNSAFE: control characters, escape sequences above all, C1,
 * bidirectional overrides) becomes `?`, and the length is bounded.
 * @example printable("\u001b[2Jhi") // "?[2Jhi"
 */
export function printable(text: string, maxLength = 512): string {
  const clean = text.replace(UNSAFE, "?");
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}...` : clean;
}

/**
 * `value` as JSON that is safe on a terminal and loses nothing: JSON.stringify escapes C0
 * controls but writes DEL, C1 (U+0080-U+009F) and bidirectional overrides raw; here they are
 * `\uXXXX` escapes too (inside strings, the only place they can be), which every JSON reader
 * turns back into the same text.
 * @example printableJson({ c: "\u0085" }) // '{"c":"\\u0085"}'
 */
export function printableJson(value: unknown, indent?: number): string {
  // Lone surrogates are escaped by JSON.stringify already (well-formed JSON.stringify).
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * `text` as a regular expression that matches exactly it, for building a pattern around a
 * literal (a marker line, a path).
 * @example new RegExp(`^${escapeRegExp("a.b")}$`).test("axb") // false
 */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
