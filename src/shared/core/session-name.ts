import { escapeRegExp } from "./text.js";

/**
 * A tmux or screen session name connect accepts (and `session-env` on the host): letters, digits
 * and _ . @ - only, so that it is safe unquoted in sh, in a sed expression once its dots are
 * escaped, and in tmux's and screen's targets.
 */
export const SESSION_NAME = /^[A-Za-z0-9_.@-]+$/;

/**
 * The name tmux gives a session asked for as `name`: it replaces "." and ":" (the separators of
 * its targets) with "_". `-t =<that>` then names exactly that session, never one whose name
 * merely begins the same way.
 * @example tmuxSessionName("a.b") // "a_b"
 */
export function tmuxSessionName(name: string): string {
  return name.replace(/[.:]/g, "_");
}

/**
 * screen names a session "<pid>.<name>" and matches `-S`, `-r` and `-R` by prefix: `-S bob`
 * reaches a session "bobby" when there is no "bob". What matches this (from `screen -ls`) names
 * one session exactly.
 * @example screenTargetPattern("bob").test("4242.bob") // true; "4242.bobby": false
 */
export function screenTargetPattern(name: string): RegExp {
  return new RegExp(`^[0-9]+\\.${escapeRegExp(name)}$`);
}
