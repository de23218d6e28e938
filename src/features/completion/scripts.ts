import type { CommandSpec, ValueKind } from "./spec.js";
import { COMPLETION_SHELLS, type CompletionShell } from "../../shared/core/shells.js";
import { UserError } from "../../shared/core/errors.js";

/**
 * Completion scripts for bash, zsh and fish, generated from the command line's definition. They
 * run no Node at completion time: every list is written into the script; only tmux session
 * names (`connect --session`) and ssh hosts (`connect HOST`, from ~/.ssh/config) are looked up
 * when asked, both without a network round trip. Those names are data in every shell: never
 * a word list the shell expands (bash's `compgen -W`), and offered quoted.
 */

interface Entry {
  /** The command path: "" for the program, "service install" for a nested one. */
  readonly path: string;
  readonly spec: CommandSpec;
}

function flatten(spec: CommandSpec, path = ""): Entry[] {
  return [{ path, spec }, ...spec.subcommands.flatMap((sub) => flatten(sub, path ? `${path} ${sub.name}` : sub.name))];
}

/** The session connect attaches when none is given (its --session default), offered first. */
function defaultSession(entries: readonly Entry[]): string[] {
  for (const { spec } of entries) {
    for (const option of spec.options) if (option.value?.kind === "session" && option.value.defaultValue) return [option.value.defaultValue];
  }
  return [];
}

/** The word a POSIX helper prints for a value kind. */
function kindWord(value: ValueKind): string {
  return value.kind === "words" ? `words ${value.words.join(" ")}` : value.kind;
}

/** The helpers bash and zsh share: plain POSIX `case` tables. */
function posixTables(entries: readonly Entry[]): string {
  const lines: string[] = [];
  lines.push("__ssh_anchor_subcommands() {", "  case $1 in");
  for (const { path, spec } of entries) {
    if (spec.subcommands.length) lines.push(`    "${path}") echo "${spec.subcommands.map((sub) => sub.name).join(" ")}" ;;`);
  }
  lines.push("  esac", "}");
  lines.push("__ssh_anchor_options() {", "  case $1 in");
  for (const { path, spec } of entries) lines.push(`    "${path}") echo "${spec.options.flatMap((option) => option.names).join(" ")}" ;;`);
  lines.push("  esac", "}");
  lines.push("# What an option's value is (nothing for a flag that takes none).", "__ssh_anchor_option_value() {", '  case "$1 $2" in');
  for (const { path, spec } of entries) {
    for (const option of spec.options) {
      if (option.value) lines.push(`    ${option.names.map((name) => `"${path} ${name}"`).join(" | ")}) echo "${kindWord(option.value)}" ;;`);
    }
  }
  lines.push("  esac", "}");
  lines.push("__ssh_anchor_argument() {", "  case $1 in");
  for (const { path, spec } of entries) if (spec.argument) lines.push(`    "${path}") echo "${kindWord(spec.argument)}" ;;`);
  lines.push("  esac", "}");
  lines.push(
    "__ssh_anchor_sessions() {",
    ...defaultSession(entries).map((name) => `  echo ${name}`),
    "  tmux list-sessions -F '#S' 2>/dev/null",
    "}",
    "__ssh_anchor_hosts() {",
    "  awk 'tolower($1) == \"host\" { for (i = 2; i <= NF; i++) if ($i !~ /[*?!]/) print $i }' \"$HOME/.ssh/config\" 2>/dev/null",
    "}",
    "# Reads the words before the cursor: sets __ssh_anchor_cmd (the command path) and",
    "# __ssh_anchor_pending (the kind of value the word under the cursor is, after an option).",
    "__ssh_anchor_parse() {",
    "  __ssh_anchor_cmd= __ssh_anchor_pending= __ssh_anchor_done=",
    "  while [ $# -gt 1 ]; do",
    "    case $1 in",
    "      --) __ssh_anchor_done=1 ;;",
    "      -*=*) ;;",
    "      -*)",
    '        __ssh_anchor_value=$(__ssh_anchor_option_value "$__ssh_anchor_cmd" "$1")',
    '        if [ -n "$__ssh_anchor_value" ]; then',
    '          [ $# -eq 2 ] && __ssh_anchor_pending=$__ssh_anchor_value',
    "          shift",
    "        fi ;;",
    "      *)",
    '        case " $(__ssh_anchor_subcommands "$__ssh_anchor_cmd") " in',
    '          *" $1 "*) __ssh_anchor_cmd=${__ssh_anchor_cmd:+$__ssh_anchor_cmd }$1 ;;',
    "        esac ;;",
    "    esac",
    "    shift",
    "  done",
    "}",
  );
  return lines.join("\n");
}

function bashScript(entries: readonly Entry[]): string {
  return [
    "# ssh-anchor completion for bash. Load it from ~/.bashrc with",
    '#   eval "$(ssh-anchor completion bash)"',
    "# or save it as ~/.local/share/bash-completion/completions/ssh-anchor (ssh-anchor setup --completions).",
    posixTables(entries),
    "# Offers each line of standard input that starts with $1, as data: compgen -W would expand",
    "# $(...), backticks and variables in a host or tmux session name (anyone who can name a tmux",
    "# session or write a Host line could run commands here). Each is offered quoted (printf %q),",
    "# so the word put on the command line is the name itself.",
    "__ssh_anchor_offer() {",
    "  local name quoted",
    "  while IFS= read -r name; do",
    '    case $name in "") continue ;; "$1"*) ;; *) continue ;; esac',
    "    printf -v quoted '%q' \"$name\"",
    '    COMPREPLY+=("$quoted")',
    "  done",
    "}",
    "__ssh_anchor_reply() {",
    "  case $1 in",
    '    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;',
    '    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;',
    '    session) __ssh_anchor_offer "$2" < <(__ssh_anchor_sessions) ;;',
    '    host) __ssh_anchor_offer "$2" < <(__ssh_anchor_hosts) ;;',
    '    words\\ *) COMPREPLY=($(compgen -W "${1#words }" -- "$2")) ;;',
    "  esac",
    "}",
    "_ssh_anchor() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} subs",
    "  COMPREPLY=()",
    '  __ssh_anchor_parse "${COMP_WORDS[@]:1:COMP_CWORD}"',
    '  [ -n "$__ssh_anchor_done" ] && return 0',
    '  if [ -n "$__ssh_anchor_pending" ]; then __ssh_anchor_reply "$__ssh_anchor_pending" "$cur"; return 0; fi',
    "  case $cur in",
    '    -*) COMPREPLY=($(compgen -W "$(__ssh_anchor_options "$__ssh_anchor_cmd")" -- "$cur")); return 0 ;;',
    "  esac",
    '  subs=$(__ssh_anchor_subcommands "$__ssh_anchor_cmd")',
    '  if [ -n "$subs" ]; then COMPREPLY=($(compgen -W "$subs" -- "$cur")); return 0; fi',
    '  __ssh_anchor_reply "$(__ssh_anchor_argument "$__ssh_anchor_cmd")" "$cur"',
    "}",
    "complete -F _ssh_anchor ssh-anchor",
    "",
  ].join("\n");
}

function zshScript(entries: readonly Entry[]): string {
  return [
    "#compdef ssh-anchor",
    "# ssh-anchor completion for zsh. Load it from ~/.zshrc, after compinit, with",
    '#   eval "$(ssh-anchor completion zsh)"',
    "# or save it as _ssh-anchor in a directory of your $fpath (ssh-anchor setup --completions).",
    posixTables(entries),
    "__ssh_anchor_reply() {",
    "  case $1 in",
    "    file) _files ;;",
    "    dir) _files -/ ;;",
    '    session) compadd -- ${(f)"$(__ssh_anchor_sessions)"} ;;',
    '    host) compadd -- ${(f)"$(__ssh_anchor_hosts)"} ;;',
    "    words\\ *) compadd -- ${=${1#words }} ;;",
    "  esac",
    "}",
    "_ssh_anchor() {",
    "  local cur=${words[CURRENT]} subs",
    '  __ssh_anchor_parse "${(@)words[2,CURRENT]}"',
    '  [[ -n $__ssh_anchor_done ]] && return 0',
    '  if [[ -n $__ssh_anchor_pending ]]; then __ssh_anchor_reply "$__ssh_anchor_pending"; return 0; fi',
    '  if [[ $cur == -* ]]; then compadd -- ${=$(__ssh_anchor_options "$__ssh_anchor_cmd")}; return 0; fi',
    '  subs=$(__ssh_anchor_subcommands "$__ssh_anchor_cmd")',
    "  if [[ -n $subs ]]; then compadd -- ${=subs}; return 0; fi",
    '  __ssh_anchor_reply "$(__ssh_anchor_argument "$__ssh_anchor_cmd")"',
    "}",
    'if [ "${funcstack[1]}" = "_ssh-anchor" ]; then _ssh_anchor "$@"; else compdef _ssh_anchor ssh-anchor; fi',
    "",
  ].join("\n");
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function fishValue(value: ValueKind): string {
  switch (value.kind) {
    case "file":
      return "-r -F";
    case "dir":
      return "-x -a '(__fish_complete_directories)'";
    case "words":
      return `-x -a ${fishQuote(value.words.join(" "))}`;
    case "session":
      return "-x -a '(__ssh_anchor_sessions)'";
    case "host":
      return "-x -a '(__fish_print_hostnames)'";
    case "text":
      return "-x";
  }
}

function fishScript(entries: readonly Entry[]): string {
  const lines = [
    "# ssh-anchor completion for fish: ssh-anchor completion fish | source",
    "# or save it as ~/.config/fish/completions/ssh-anchor.fish (ssh-anchor setup --completions).",
    "function __ssh_anchor_subcommands",
    "    switch \"$argv[1]\"",
  ];
  for (const { path, spec } of entries) {
    if (spec.subcommands.length) lines.push(`        case ${fishQuote(path)}`, `            printf '%s\\n' ${spec.subcommands.map((sub) => sub.name).join(" ")}`);
  }
  lines.push(
    "    end",
    "end",
    "# The command path typed so far: '', 'service', 'service install'...",
    "function __ssh_anchor_path",
    "    set -l cmd",
    "    for word in (commandline -opc)[2..-1]",
    "        if contains -- $word (__ssh_anchor_subcommands \"$cmd\")",
    "            set cmd (string join ' ' $cmd $word)",
    "        end",
    "    end",
    "    echo \"$cmd\"",
    "end",
    "function __ssh_anchor_at",
    "    test \"$(__ssh_anchor_path)\" = \"$argv[1]\"",
    "end",
    "function __ssh_anchor_sessions",
    ...defaultSession(entries).map((name) => `    echo ${name}`),
    "    tmux list-sessions -F '#S' 2>/dev/null",
    "end",
    "complete -c ssh-anchor -f",
  );
  for (const { path, spec } of entries) {
    const at = `-n ${fishQuote(`__ssh_anchor_at ${fishQuote(path)}`)}`;
    for (const sub of spec.subcommands) lines.push(`complete -c ssh-anchor ${at} -a ${fishQuote(sub.name)} -d ${fishQuote(sub.description)}`);
    for (const option of spec.options) {
      const names = option.names.map((name) => (name.startsWith("--") ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`)).join(" ");
      lines.push(`complete -c ssh-anchor ${at} ${names}${option.value ? ` ${fishValue(option.value)}` : ""} -d ${fishQuote(option.description)}`);
    }
    if (spec.argument && spec.subcommands.length === 0) {
      const value = fishValue(spec.argument).replace(/^-[rx] ?/, "");
      if (value) lines.push(`complete -c ssh-anchor ${at} ${value}`);
    }
  }
  lines.push("");
  return lines.join("\n");
}

/**
 * The completion script for `shell`.
 * @throws {UserError} for a shell it has no completion for.
 */
export function completionScript(spec: CommandSpec, shell: string): string {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    throw new UserError(`no completion for "${shell}"; use one of: ${COMPLETION_SHELLS.join(", ")}`, 2);
  }
  const entries = flatten(spec);
  const scripts: Record<CompletionShell, (entries: readonly Entry[]) => string> = { bash: bashScript, zsh: zshScript, fish: fishScript };
  return scripts[shell as CompletionShell](entries);
}
