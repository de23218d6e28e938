import { currentUid, readOwnFile, replaceOwnFile } from "../../../shared/core/trust.js";
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
 * It holds key fingerprints only, never keys.
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
    const text = (await readOwnFile(this.file(), this.uid)) ?? "";
    this.#scopes = new Map();
    if (!text || text.length > LIMITS.registryBytes) return;
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
   * @returns the scope, and the scopes forgotten to stay within LIMITS.scopes.
   */
  async register(anchor: Anchor, now = Date.now()): Promise<{ scope: Scope; forgotten: Scope[] }> {
    const keys = [...new Set(anchor.keys)].sort();
    const scope: Scope = { id: scopeId({ keys }), keys, lastLoginMs: now };
    this.#scopes.delete(scope.id);
    this.#scopes.set(scope.id, scope);
    const forgotten: Scope[] = [];
    while (this.#scopes.size > LIMITS.scopes) {
      const oldest = [...this.#scopes.values()].reduce((a, b) => (b.lastLoginMs < a.lastLoginMs ? b : a));
      this.#scopes.delete(oldest.id);
      forgotten.push(oldest);
    }
    await this.#save();
    return { scope, forgotten };
  }

  async #save(): Promise<void> {
    await replaceOwnFile(this.file(), `${JSON.stringify(this.all(), null, 1)}\n`);
  }
}

function validScope(entry: unknown): Scope | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  const { keys, lastLoginMs } = entry as { keys?: unknown; lastLoginMs?: unknown };
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => typeof key === "string" && FINGERPRINT.test(key))) return undefined;
  const sorted = [...new Set(keys as string[])].sort();
  // The id is always recomputed: a file edited to pair an id with other keys changes nothing.
  return { id: scopeId({ keys: sorted }), keys: sorted, lastLoginMs: typeof lastLoginMs === "number" ? lastLoginMs : 0 };
}
