import type { Command } from "commander";
import { runCommand } from "../output.js";

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description("print the tab completion script for bash, zsh or fish")
    .argument("<shell>", "one of: bash, zsh, fish")
    .addHelpText(
      "after",
      `
Load it at every shell start, or let ssh-anchor setup --completions save it where the shell finds it:
  ~/.bashrc                    eval "$(ssh-anchor completion bash)"
  ~/.zshrc (after compinit)    eval "$(ssh-anchor completion zsh)"
  fish                         ssh-anchor completion fish > ~/.config/fish/completions/ssh-anchor.fish

It completes commands, flags, shells, files, ssh hosts from ~/.ssh/config (connect) and tmux
session names (connect --session), with no Node start-up at tab time.`,
    )
    .action((shell: string) =>
      runCommand(async () => {
        const { completionScript } = await import("../../features/completion/scripts.js");
        const { commandSpec } = await import("../../features/completion/spec.js");
        process.stdout.write(completionScript(commandSpec(program), shell));
      }),
    );
}

/** `setup --completions` (and `setup --undo`): installs or removes the script for `shell`. */
export async function setupCompletions(program: Command, shell: string, flags: { undo?: boolean; dryRun?: boolean }): Promise<void> {
  const { COMPLETION_SHELLS, commandSpec } = await import("../../features/completion/spec.js");
  const { completionScript } = await import("../../features/completion/scripts.js");
  const { completionFile, completionNote, installCompletion, removeCompletion } = await import("../../features/completion/install.js");
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    if (!flags.undo) process.stdout.write(`no tab completion for ${shell}: ssh-anchor has it for ${COMPLETION_SHELLS.join(", ")}\n`);
    return;
  }
  const target = shell as (typeof COMPLETION_SHELLS)[number];
  const file = completionFile(target);
  if (flags.undo) {
    if (flags.dryRun) process.stdout.write(`would remove ${file} if setup wrote it\n`);
    else if (await removeCompletion(file)) process.stdout.write(`removed ${file}\n`);
    return;
  }
  if (flags.dryRun) {
    process.stdout.write(`would write the ${shell} completion to ${file}\n`);
    return;
  }
  const written = await installCompletion(file, completionScript(commandSpec(program), target));
  process.stdout.write(written ? `wrote the ${shell} completion to ${file}\n` : `the ${shell} completion in ${file} is up to date\n`);
  const note = completionNote(target, file);
  if (note) process.stdout.write(`note: ${note}\n`);
}
