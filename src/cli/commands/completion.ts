import type { Command } from "commander";
import { COMPLETION_SHELLS } from "../../shared/core/shells.js";
import { printScript, runCommand } from "../output.js";
import { prose } from "../help-text.js";

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description(`print the tab completion script for ${COMPLETION_SHELLS.slice(0, -1).join(", ")} or ${COMPLETION_SHELLS.at(-1)}`)
    .argument("<shell>", `one of: ${COMPLETION_SHELLS.join(", ")}`)
    .addHelpText(
      "after",
      prose(`
Load it at every shell start, or let ssh-anchor setup --completions save it where the shell
finds it:
  ~/.bashrc                  eval "$(ssh-anchor completion bash)"
  ~/.zshrc, after compinit   eval "$(ssh-anchor completion zsh)"
  fish, once:
    ssh-anchor completion fish > ~/.config/fish/completions/ssh-anchor.fish

It completes commands, flags, shells, files, ssh hosts from ~/.ssh/config (connect) and tmux
session names (connect --session), with no Node start-up at tab time.`),
    )
    .action((shell: string) =>
      runCommand(async () => {
        const { completionScript } = await import("../../features/completion/scripts.js");
        const { commandSpec } = await import("../../features/completion/spec.js");
        printScript(completionScript(commandSpec(program), shell));
      }),
    );
}
