import type { Command } from "commander";
import { COMPLETION_SHELLS, SHELLS } from "../../shared/core/shells.js";

/**
 * What the completion scripts know, read off the command line's own definition (commander), so
 * that they list exactly the commands and flags that --help shows.
 */

/** How a value is completed: file names, directory names, fixed words, the user's tmux sessions
 * (and the one connect uses when none is given), ssh hosts, or nothing (free text). */
export type ValueKind =
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "words"; words: readonly string[] }
  | { kind: "session"; defaultValue: string | undefined }
  | { kind: "host" }
  | { kind: "text" };

export interface OptionSpec {
  /** Every spelling: ["-s", "--socket"]. */
  readonly names: readonly string[];
  readonly description: string;
  /** Undefined for a flag that takes no value. */
  readonly value?: ValueKind;
}

export interface CommandSpec {
  readonly name: string;
  readonly description: string;
  readonly options: readonly OptionSpec[];
  readonly subcommands: readonly CommandSpec[];
  /** What the first positional argument is, when the command takes one. */
  readonly argument?: ValueKind;
}

function valueKind(option: string, placeholder: string, defaultValue: unknown): ValueKind {
  if (option === "--session") return { kind: "session", defaultValue: typeof defaultValue === "string" ? defaultValue : undefined };
  if (option === "--shell" || placeholder === "shell") return { kind: "words", words: SHELLS };
  if (/^(file|path)$/.test(placeholder)) return { kind: "file" };
  if (placeholder === "dir") return { kind: "dir" };
  return { kind: "text" };
}

function argumentKind(path: string, name: string | undefined): ValueKind | undefined {
  if (path === "connect" || path === "install") return { kind: "host" };
  if (path === "completion") return { kind: "words", words: COMPLETION_SHELLS };
  if (name === "shell") return { kind: "words", words: SHELLS };
  if (name !== undefined) return { kind: "text" };
  return undefined;
}

function describe(command: Command, path: string): CommandSpec {
  const options: OptionSpec[] = command.options
    .filter((option) => !option.hidden)
    .map((option) => {
      const names = [option.short, option.long].filter((name): name is string => Boolean(name));
      const placeholder = /<(\w+)>|\[(\w+)\]/.exec(option.flags);
      const takesValue = option.required || option.optional;
      return {
        names,
        description: option.description,
        value: takesValue ? valueKind(option.long ?? "", placeholder?.[1] ?? placeholder?.[2] ?? "", option.defaultValue) : undefined,
      };
    });
  options.push({ names: ["-h", "--help"], description: "show help" });
  const subcommands = command
    .createHelp()
    .visibleCommands(command)
    .filter((sub) => sub.name() !== "help")
    .map((sub) => describe(sub, path ? `${path} ${sub.name()}` : sub.name()));
  return {
    name: command.name(),
    description: command.description(),
    options,
    subcommands,
    argument: argumentKind(path, command.registeredArguments[0]?.name()),
  };
}

/** The completion spec of a whole program (its subcommands, their flags and arguments). */
export function commandSpec(program: Command): CommandSpec {
  return describe(program, "");
}
