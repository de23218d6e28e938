import { UserError } from "./errors.js";

/**
 * Everything ssh-anchor knows about one shell, in one place: adding a shell is one entry here,
 * its files in shell/ (if it needs a syntax of its own), its name in both `case`s of bin/ssh-anchor
 * and the shell tables of README.md, docs/setup.md and docs/per-identity.md (test/unit/shells.test.ts and test/unit/docs.test.ts fail until the
 * last two agree with this record).
 */
export interface ShellRecord {
  /** The name `init` and `setup --shell` take. */
  readonly name: string;
  /** Other shells' command names that stand for this one: they read the same files and run its code. */
  readonly aliases: readonly string[];
  /** The interactive start-up file setup writes the rc line to, relative to $HOME. */
  readonly rcFile: string;
  /** The suffix of its code in shell/ (location, init, link and scoped): one syntax per suffix. */
  readonly scripts: "sh" | "fish";
  /**
   * The start-up files it reads, relative to $HOME, in groups of which it reads the first that
   * exists: what doctor checks for the init line in a running pane's shell.
   */
  readonly startup: { readonly login: readonly (readonly string[])[]; readonly interactive: readonly (readonly string[])[] };
  /** Whether it reads its start-up files even when it runs a command or a script. */
  readonly startupWhenScripted: boolean;
  /**
   * Where `setup --completions` saves its completion script, for a shell ssh-anchor has one for:
   * `file` under the XDG base directory `base` ("data": $XDG_DATA_HOME or ~/.local/share,
   * "config": $XDG_CONFIG_HOME or ~/.config), a place the shell loads completions from by itself.
   */
  readonly completion?: {
    readonly base: "data" | "config";
    readonly file: string;
    /** What the user still has to do for the shell to look in that file's directory, if anything. */
    readonly setupNote?: (directory: string) => string;
  };
  /**
   * Where setup puts its block in the rc file. bash's is first: Debian's and Ubuntu's ~/.bashrc
   * return at once when the shell is not interactive, and a non-interactive bash reads it all the
   * same (`ssh host cmd`, through bash's SSH_SOURCE_BASHRC; `bash -lc` through ~/.profile), so a
   * line after that guard never runs there. The others last (the last word wins).
   */
  readonly rcAt: "start" | "end";
  /**
   * The rc line that runs `<command> <mode> <shell>` at start-up: with no command, `ssh-anchor`
   * by name (the README's line, for ssh-anchor on every PATH); setup gives the absolute path it
   * was run as, written from $HOME when it is under `home`.
   */
  rcLine(mode: InitMode, command?: string, home?: string): string;
  /** The line that sets SSH_AUTH_SOCK to `value` in this shell (doctor's fix for a pane). */
  exportLine(value: string): string;
}

/** The forms of `ssh-anchor init` an rc line can run: the daemon's, link mode's, shared accounts'. */
export type InitMode = "init" | "init --link" | "init --per-identity";

const posixExport = (value: string): string => `export SSH_AUTH_SOCK=${value}`;

/** Characters a path may hold to be written bare, or inside double quotes after $HOME. */
const PLAIN_PATH = /^[A-Za-z0-9_./+@%,:-]+$/;

/**
 * A command as a word of an rc line, in the syntax of both sh and fish: `ssh-anchor` by name
 * when there is none; `"$HOME/.local/bin/ssh-anchor"` under the home (a dotfiles repository
 * keeps working for another user name); the plain path when it needs no quoting; else quoted
 * for `scripts` (sh: '...' with '\'' for a quote; fish: '...' with \' and \\).
 * @example commandWord("/home/me/.local/bin/ssh-anchor", "/home/me", "sh") // "\"$HOME/.local/bin/ssh-anchor\""
 */
export function commandWord(command: string | undefined, home: string | undefined, scripts: "sh" | "fish"): string {
  if (command === undefined) return "ssh-anchor";
  if (home && home !== "/" && command.startsWith(`${home}/`) && PLAIN_PATH.test(command.slice(home.length))) return `"$HOME${command.slice(home.length)}"`;
  if (PLAIN_PATH.test(command)) return command;
  return scripts === "fish" ? `'${command.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'` : `'${command.replaceAll("'", "'\\''")}'`;
}

const evalLine = (shell: string) => (mode: InitMode, command?: string, home?: string) => `eval "$(${commandWord(command, home, "sh")} ${mode} ${shell})"`;

/** The shells, in the order help and errors list them. */
export const SHELL_RECORDS = [
  {
    name: "bash",
    aliases: [],
    rcFile: ".bashrc",
    scripts: "sh",
    // A login bash reads the first of these (Debian's ~/.profile then sources ~/.bashrc); an
    // interactive one that is not a login shell reads ~/.bashrc.
    startup: { login: [[".bash_profile", ".bash_login", ".profile"]], interactive: [[".bashrc"]] },
    startupWhenScripted: false,
    // bash-completion's user directory.
    completion: { base: "data", file: "bash-completion/completions/ssh-anchor" },
    rcAt: "start",
    rcLine: evalLine("bash"),
    exportLine: posixExport,
  },
  {
    name: "zsh",
    aliases: [],
    rcFile: ".zshrc",
    scripts: "sh",
    startup: { login: [[".zprofile"], [".zshrc"], [".zlogin"]], interactive: [[".zshrc"]] },
    startupWhenScripted: false,
    // Not on zsh's default $fpath: the user adds it once (setup says so).
    completion: {
      base: "data",
      file: "zsh/site-functions/_ssh-anchor",
      setupNote: (directory) => `zsh loads it from $fpath: add fpath=(${directory} $fpath) to ~/.zshrc before compinit`,
    },
    rcAt: "end",
    rcLine: evalLine("zsh"),
    exportLine: posixExport,
  },
  {
    name: "sh",
    aliases: ["dash", "ksh", "mksh", "ash"],
    rcFile: ".profile",
    scripts: "sh",
    // Not a login shell: only $ENV, which doctor cannot see.
    startup: { login: [[".profile"]], interactive: [] },
    startupWhenScripted: false,
    rcAt: "end",
    rcLine: evalLine("sh"),
    exportLine: posixExport,
  },
  {
    name: "fish",
    aliases: [],
    rcFile: ".config/fish/config.fish",
    scripts: "fish",
    startup: { login: [[".config/fish/config.fish"]], interactive: [[".config/fish/config.fish"]] },
    startupWhenScripted: true,
    completion: { base: "config", file: "fish/completions/ssh-anchor.fish" },
    rcAt: "end",
    rcLine: (mode: InitMode, command?: string, home?: string) => `${commandWord(command, home, "fish")} ${mode} fish | source`,
    exportLine: (value) => `set -gx SSH_AUTH_SOCK ${value}`,
  },
] as const satisfies readonly ShellRecord[];

/** A name `ssh-anchor init` takes. */
export type Shell = (typeof SHELL_RECORDS)[number]["name"];

/** A shell's record, with its name narrowed to the ones `init` takes. */
export type KnownShell = ShellRecord & { readonly name: Shell };

/** The names `ssh-anchor init` takes. */
export const SHELLS: readonly Shell[] = SHELL_RECORDS.map((record) => record.name);

/** A shell ssh-anchor has tab completion for. */
export type CompletionShell = Extract<(typeof SHELL_RECORDS)[number], { completion: object }>["name"];

/** The shells `ssh-anchor completion` writes for, in SHELL_RECORDS' order. */
export const COMPLETION_SHELLS: readonly CompletionShell[] = SHELL_RECORDS.flatMap((record) => ("completion" in record ? [record.name] : []));

/** Every rc file setup may have written to, relative to $HOME. */
export const RC_FILES: readonly string[] = SHELL_RECORDS.map((record) => record.rcFile);

/**
 * Every start-up file a shell ssh-anchor knows may read, relative to $HOME: where a hand-written
 * or setup-written init line can be.
 */
export const STARTUP_FILES: readonly string[] = [
  ...new Set(SHELL_RECORDS.flatMap((record) => [record.rcFile, ...record.startup.login.flat(), ...record.startup.interactive.flat()])),
];

/**
 * The start-up files one shell may read, relative to $HOME: its rc file and every file of its
 * login and interactive start-up (where a second init line would stack on the first).
 * @example startupFilesOf(initShell("bash")) // [".bashrc", ".bash_profile", ".bash_login", ".profile"]
 */
export function startupFilesOf(record: ShellRecord): string[] {
  return [...new Set([record.rcFile, ...record.startup.login.flat(), ...record.startup.interactive.flat()])];
}

/**
 * The record of a shell by its name or one of its aliases, or undefined for a shell ssh-anchor
 * does not know.
 * @example shellNamed("dash")?.rcFile // ".profile"
 */
export function shellNamed(name: string): KnownShell | undefined {
  return SHELL_RECORDS.find((record) => record.name === name || (record.aliases as readonly string[]).includes(name));
}

/**
 * The record for a name `init` takes (aliases are not: `init` prints code, and says which name to use).
 * @throws {UserError} for any other name.
 * @example initShell("fish").scripts // "fish"
 */
export function initShell(name: string): KnownShell {
  const record = SHELL_RECORDS.find((candidate) => candidate.name === name);
  if (!record) throw new UserError(`unknown shell "${name}"; use one of: ${SHELLS.join(", ")}`, 2);
  return record;
}

/**
 * The shell setup writes for: the one named with --shell (an alias counts), else the login
 * shell that $SHELL names.
 * @throws {UserError} when the one named or $SHELL's is not a shell ssh-anchor knows, or $SHELL is unset.
 * @example setupShell(undefined, { SHELL: "/bin/dash" }).rcFile // ".profile"
 */
export function setupShell(named: string | undefined, env: NodeJS.ProcessEnv = process.env): KnownShell {
  const known = `${SHELLS.slice(0, -1).join(", ")} and ${SHELLS.at(-1)}`;
  const usage = `--shell ${SHELLS.join("|")}`;
  if (named !== undefined) {
    const record = shellNamed(named);
    if (!record) throw new UserError(`${named} is not supported: setup knows ${known} (${usage})`, 2);
    return record;
  }
  const login = (env.SHELL ?? "").split("/").pop() ?? "";
  const record = shellNamed(login);
  if (record) return record;
  throw new UserError(
    login
      ? `your shell (${login}, from $SHELL) is not supported: setup knows ${known}; name one with --shell`
      : `cannot tell your shell ($SHELL is not set): name it with ${usage}`,
    2,
  );
}
