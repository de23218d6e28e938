import { access, mkdir, readFile, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { configHome } from "../../shared/core/location.js";
import { COMPLETION_SHELLS, shellNamed, type CompletionShell } from "../../shared/core/shells.js";
import { replaceOwnFile } from "../../shared/core/trust.js";
import { completionScript } from "./scripts.js";
import { commandSpec } from "./spec.js";

/**
 * Where `setup --completions` puts the completion script: the place its shell record names
 * (where the shell loads completions from by itself; for zsh a directory that the user adds to
 * $fpath once).
 * @example completionFile("fish", "/home/me", {}) // "/home/me/.config/fish/completions/ssh-anchor.fish"
 */
export function completionFile(shell: CompletionShell, home = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  const place = shellNamed(shell)?.completion;
  if (!place) throw new Error(`no completion file for ${shell}`);
  const base = place.base === "config" ? configHome(home, env) : env.XDG_DATA_HOME?.startsWith("/") ? env.XDG_DATA_HOME : join(home, ".local", "share");
  return join(base, place.file);
}

/** What the user still has to do for the shell to find the file (its record says; zsh's $fpath). */
function completionNote(shell: CompletionShell, file: string): string | undefined {
  const place = shellNamed(shell)?.completion;
  return place?.setupNote?.(dirname(file));
}

/**
 * Where bash-completion's loader lives (Debian, Ubuntu, Fedora, Arch; older releases; a /usr/local
 * or Homebrew install). It is what loads a file from ~/.local/share/bash-completion/completions:
 * bash itself never looks there.
 */
export const BASH_COMPLETION_LOADERS: readonly string[] = [
  "/usr/share/bash-completion/bash_completion",
  "/etc/bash_completion",
  "/usr/local/share/bash-completion/bash_completion",
  "/usr/local/etc/profile.d/bash_completion.sh",
  "/opt/homebrew/etc/profile.d/bash_completion.sh",
];

/**
 * For bash without bash-completion (no loader in `loaders`): one line saying that nothing loads
 * `file`, and how to load it.
 * @example await bashLoaderNote("/home/me/.local/share/bash-completion/completions/ssh-anchor")
 */
export async function bashLoaderNote(file: string, loaders: readonly string[] = BASH_COMPLETION_LOADERS): Promise<string | undefined> {
  for (const loader of loaders) {
    if (await access(loader).then(() => true, () => false)) return undefined;
  }
  return `bash-completion is not installed (no ${loaders[0]}), so nothing loads ${file}: add '. ${file}' to ~/.bashrc, or install bash-completion`;
}

/** Writes the script; returns false when the file already holds exactly this text. */
async function installCompletion(file: string, script: string): Promise<boolean> {
  if ((await readFile(file, "utf8").catch(() => undefined)) === script) return false;
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await replaceOwnFile(file, script, 0o644);
  return true;
}

/** Removes the script if it is there; returns whether it was. */
/** Whether `file` is a completion script setup wrote (anything else there is the user's). */
async function writtenBySetup(file: string): Promise<boolean> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  return text !== undefined && text.includes("ssh-anchor completion");
}

async function removeCompletion(file: string): Promise<boolean> {
  if (!(await writtenBySetup(file))) return false;
  await unlink(file);
  return true;
}

/**
 * `setup --completions` (and `setup --undo`): installs or removes the completion script of
 * `shell` for `program`'s commands.
 * @returns the lines to tell the user, in order.
 * @example for (const line of await setupCompletions(program, "zsh", { dryRun: true })) console.log(line)
 */
export async function setupCompletions(program: Command, shell: string, flags: { undo?: boolean; dryRun?: boolean }): Promise<string[]> {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    return flags.undo ? [] : [`no tab completion for ${shell}: ssh-anchor has it for ${COMPLETION_SHELLS.join(", ")}`];
  }
  const target = shell as CompletionShell;
  const file = completionFile(target);
  if (flags.undo) {
    if (flags.dryRun) return (await writtenBySetup(file)) ? [`would remove ${file}`] : [];
    return (await removeCompletion(file)) ? [`removed ${file}`] : [];
  }
  if (flags.dryRun) return [`would write the ${shell} completion to ${file}`];
  const written = await installCompletion(file, completionScript(commandSpec(program), target));
  const note = completionNote(target, file) ?? (target === "bash" ? await bashLoaderNote(file) : undefined);
  return [written ? `wrote the ${shell} completion to ${file}` : `the ${shell} completion in ${file} is up to date`, ...(note ? [`note: ${note}`] : [])];
}
