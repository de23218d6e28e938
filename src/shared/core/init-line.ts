/**
 * The line setup adds (or one written by hand), in any shell's syntax, link mode included: one
 * that runs `ssh-anchor init`, or one that sources a file of its output (~/.ssh-anchor.sh, as
 * init's help suggests for a shell that should not run Node at start-up).
 */
const INIT_LINE = /ssh-anchor init\b|ssh-anchor\.sh/;

/** The init line of shared accounts: per-identity scopes are on when an rc file runs it. */
const PER_IDENTITY_LINE = /ssh-anchor init --per-identity\b/;

/**
 * Whether a start-up file's text holds the init line (`"per-identity"`: that form of it).
 *
 * @example
 * runsInit('eval "$(ssh-anchor init --link bash)"') // true
 * runsInit('eval "$(ssh-anchor init bash)"', "per-identity") // false
 */
export function runsInit(text: string, form?: "per-identity"): boolean {
  return (form === "per-identity" ? PER_IDENTITY_LINE : INIT_LINE).test(text);
}
