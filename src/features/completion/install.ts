import { mkdir, readFile, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { configHome } from "../../shared/core/location.js";
import { replaceOwnFile } from "../../shared/core/trust.js";
import type { CompletionShell } from "./spec.js";

/**
 * Where `setup --completions` puts the completion script: the place each shell loads completions
 * from by itself (bash-completion's user directory, fish's), and for zsh a directory that the
 * user adds to $fpath once.
 */
export function completionFile(shell: CompletionShell, home = homedir(), env: NodeJS.ProcessEnv = process.env): string {
  const data = env.XDG_DATA_HOME?.startsWith("/") ? env.XDG_DATA_HOME : join(home, ".local", "share");
  const config = configHome(home, env);
  switch (shell) {
    case "bash":
      return join(data, "bash-completion", "completions", "ssh-anchor");
    case "zsh":
      return join(data, "zsh", "site-functions", "_ssh-anchor");
    case "fish":
      return join(config, "fish", "completions", "ssh-anchor.fish");
  }
}

/** What the user still has to do for the shell to find the file (zsh only). */
export function completionNote(shell: CompletionShell, file: string): string | undefined {
  if (shell !== "zsh") return undefined;
  return `zsh loads it from $fpath: add fpath=(${dirname(file)} $fpath) to ~/.zshrc before compinit`;
}

/** Writes the script; returns false when the file already holds exactly this text. */
export async function installCompletion(file: string, script: string): Promise<boolean> {
  if ((await readFile(file, "utf8").catch(() => undefined)) === script) return false;
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await replaceOwnFile(file, script, 0o644);
  return true;
}

/** Removes the script if it is there; returns whether it was. */
export async function removeCompletion(file: string): Promise<boolean> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined || !text.includes("ssh-anchor completion")) return false;
  await unlink(file);
  return true;
}
