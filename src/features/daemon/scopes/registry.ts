import { currentUid, replaceOwnFile } from "../../../shared/core/trust.js";
import { readRegistryFile } from "../../../shared/scope/registry-file.js";
import { FINGERPRINT, scopeId, type Anchor } from "../../../shared/scope/rule.js";
import { LIMITS } from "../policy.js";

/** One scope the daemon serves a socket for. */
export interface Scope extends Anchor {
  readonly id: string;
  /** The last login that asked for this scope (ms since the epoch): the oldest goes first. */
  readonly lastLoginMs: number;
}

/**
 * The scopes, kept in a 0600 file beside the stable socket (in its private directory) so that a
 * restarted daemon serves the same scoped sockets again: panes keep holding their paths.
 * It holds key fingerprints only, never keys, one scope a line. Writer and reader share one bound,
 * LIMITS.registryBytes: the file is never written larger (the scopes whose last login is oldest
 * are forgotten first), and a file of up to that size is read back whole.
 */
export class ScopeRegistry {
  #scopes = new Map<string, Scope>();

  /** `file` is asked each time: the daemon's directory can move (to its fallback location).
   * Only a file of `uid`'s own is read. */
  constructor(
    readonly file: () => string,
    readonly uid: number = currentUid(),
  ) {}

  /** Reads the file; a missing or malformed one is an empty registry (entries are checked one by one). */
  async load(): Promise<void> {
    const text = (await readRegistryFile(this.file(), this.uid)) ?? "";
    this.#scopes = new Map();
    if (!text) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(parsed)) return;
    for (const entry of parsed as unknown[]) {
      const scope = validScope(entry);
      if (scope) this.#scopes.set(scope.id, scope);
    }
  }

  all(): Scope[] {
    return [...this.#scopes.values()];
  }

  get(id: string): Scope | undefined {
    return this.#scopes.get(id);
  }

  /** Writes the file again (the daemon moved to another directory). */
  save(): Promise<void> {
    return this.#save();
  }

  /**
   * Records a login of the scope of `anchor` (new or known) and saves the file.
   * @returns the scope, and the scopes forgotten to stay within LIMITS.scopes and
   * LIMITS.registryBytes (those whose last login is oldest).
   * @throws {Error} when this scope alone would not fit in LIMITS.registryBytes (nothing changes).
   */
  async register(anchor: Anchor, now = Date.now()): Promise<{ scope: Scope; forgotten: Scope[] }> {
    const keys = [...new Set(anchor.keys)].sort();
    const scope: Scope = { id: scopeId({ keys }), keys, lastLoginMs: now };
    const others = [...this.#scopes.values()].filter((other) => other.id !== scope.id);
    const oldestFirst = [...others].sort((a, b) => a.lastLoginMs - b.lastLoginMs);
    const forgotten = new Set<Scope>();
    let count = others.length + 1;
    let bytes = fileBytes([...others, scope]);
    while (count > LIMITS.scopes || bytes > LIMITS.registryBytes) {
      const oldest = oldestFirst.shift();
      if (!oldest) {
        throw new Error(
          `this login's agent offers ${keys.length} keys: its scope alone is larger than the scope registry's bound (${LIMITS.registryBytes} bytes)`,
        );
      }
      forgotten.add(oldest);
      count -= 1;
      bytes -= lineBytes(oldest);
    }
    this.#scopes = new Map([...others.filter((other) => !forgotten.has(other)), scope].map((kept) => [kept.id, kept]));
    await this.#save();
    return { scope, forgotten: [...forgotten] };
  }

  async #save(): Promise<void> {
    await replaceOwnFile(this.file(), registryText(this.all()));
  }
}

/** The file's text: a JSON array, one scope a line. */
export function registryText(scopes: readonly Scope[]): string {
  return scopes.length === 0 ? "[]\n" : `[\n${scopes.map((scope) => JSON.stringify(scope)).join(",\n")}\n]\n`;
}

/** What one scope adds to registryText: its line and the ",\n" after it. */
function lineBytes(scope: Scope): number {
  return Buffer.byteLength(JSON.stringify(scope)) + 2;
}

/** registryText's size in bytes, without writing it out: "[\n" and "\n]\n" less one ",\n". */
function fileBytes(scopes: readonly Scope[]): number {
  return scopes.reduce((sum, scope) => sum + lineBytes(scope), 3);
}

function validScope(entry: unknown): Scope | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  const { keys, lastLoginMs } = entry as { keys?: unknown; lastLoginMs?: unknown };
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => typeof key === "string" && FINGERPRINT.test(key))) return undefined;
  const sorted = [...new Set(keys as string[])].sort();
  // The id is always recomputed: a file edited to pair an id with other keys changes nothing.
  return { id: scopeId({ keys: sorted }), keys: sorted, lastLoginMs: typeof lastLoginMs === "number" ? lastLoginMs : 0 };
}
