import type { InitMode } from "./shells.js";

/**
 * The init line in a start-up file, in any shell's syntax, written by setup or by hand: a line
 * that runs `ssh-anchor init` (`eval "$(ssh-anchor init --per-identity bash)"`,
 * `ssh-anchor init --link fish | source`, `/opt/bin/ssh-anchor init bash --per-identity`), or one
 * that sources a saved copy of its output (`. ~/.ssh-anchor.sh`, `source ~/.ssh-anchor.fish`, as
 * init's help suggests for a shell that should not run Node at start-up). A comment is not one.
 */

/**
 * `ssh-anchor init` as a command (any directory before it, quoted or not: setup writes
 * `"$HOME/.local/bin/ssh-anchor" init bash`; a single executable may be named
 * ssh-anchor-linux-x64), and what follows up to the end of that command.
 */
const RUNS_INIT = /(?:^|[^\w.-])ssh-anchor[\w.-]*["']?[ \t]+init(?![\w-])([^)|;&"'`<>]*)/;

/** `. FILE` or `source FILE` where FILE's name says ssh-anchor: a saved init script. */
const SOURCES_SAVED = /(?:^|[\s;&|(!{])(?:\.|source)[ \t]+["']?([^\s"';&|)]*ssh-anchor[^\s"';&|)/]*)/;

/** The name init's help suggests for the saved script, wherever it appears on a line. */
const SAVED_NAME = /ssh-anchor\.(?:sh|fish)\b/;

/** One line of a start-up file that runs the init line. */
export interface InitLine {
  /** 1-based. */
  readonly line: number;
  readonly text: string;
  /** Its form, or undefined for a sourced saved script until its content is read (savedScriptForm). */
  readonly form: InitMode | undefined;
  /** The saved script it sources, as written (`~/.ssh-anchor.sh`). */
  readonly sources?: string;
}

function formOf(words: string): InitMode {
  const flags = words.split(/\s+/);
  if (flags.includes("--per-identity")) return "init --per-identity";
  if (flags.includes("--link")) return "init --link";
  return "init";
}

/**
 * Every line of a start-up file's text that runs the init line, with its form.
 * @example initLines('# mine\neval "$(ssh-anchor init --per-identity bash)"\n') // [{ line: 2, form: "init --per-identity", ... }]
 */
export function initLines(text: string): InitLine[] {
  const found: InitLine[] = [];
  text.split("\n").forEach((line, index) => {
    if (/^\s*#/.test(line)) return;
    const runs = RUNS_INIT.exec(line);
    if (runs) {
      found.push({ line: index + 1, text: line, form: formOf(runs[1] ?? "") });
      return;
    }
    const sources = SOURCES_SAVED.exec(line)?.[1] ?? (SAVED_NAME.test(line) ? SAVED_NAME.exec(line)?.[0] : undefined);
    if (sources) found.push({ line: index + 1, text: line, form: undefined, sources });
  });
  return found;
}

/**
 * The form of a saved init script, from its text (the first line of each of shell/'s scripts
 * says which it is), or undefined when it is not one.
 * @example savedScriptForm("# ssh-anchor link mode (no daemon) for bash ...") // "init --link"
 */
export function savedScriptForm(text: string): InitMode | undefined {
  if (/^# ssh-anchor per-identity shell integration/m.test(text) || /\bssh-anchor scope\b/.test(text)) return "init --per-identity";
  if (/^# ssh-anchor link mode/m.test(text)) return "init --link";
  if (/^# ssh-anchor shell integration/m.test(text)) return "init";
  return undefined;
}

/**
 * Whether a start-up file's text holds the init line (`"per-identity"`: that form of it, as
 * written on the line; a sourced saved script counts only once its content is known, see
 * src/shared/scope/account.ts).
 *
 * @example
 * runsInit('eval "$(ssh-anchor init --link bash)"') // true
 * runsInit('eval "$(ssh-anchor init bash)"', "per-identity") // false
 */
export function runsInit(text: string, form?: "per-identity"): boolean {
  const lines = initLines(text);
  return form === "per-identity" ? lines.some((line) => line.form === "init --per-identity") : lines.length > 0;
}
