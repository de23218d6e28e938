import { constants as fsConstants } from "node:fs";
import { access, copyFile, mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UserError } from "../../shared/core/errors.js";
import { SOCKET_NAME } from "../../shared/core/location.js";
import { CLI_ENTRY, ownCommand } from "../../shared/core/package-root.js";
import { onPath, SSHD_PATH } from "../../shared/core/login-path.js";
import { initShell, startupFilesOf, type InitMode, type KnownShell, type Shell } from "../../shared/core/shells.js";
import { escapeRegExp, printable } from "../../shared/core/text.js";
import { forwardsBlockLines, forwardsLabel, type HostForwards } from "./forwards.js";
import { currentUid, ownFileBehindLink, replaceOwnFile } from "../../shared/core/trust.js";
import { describeEvidence, initLinesIn, perIdentityEvidence, tildePath, type FoundInitLine, type PerIdentityEvidence } from "../../shared/scope/account.js";

/**
 * The markers around a block setup writes: `# >>> ssh-anchor >>>` for the rc line and the
 * IdentityAgent lines, `# >>> ssh-anchor forwards HOST >>>` for one host's forwards (a label
 * each, so that every block is found, replaced and removed alone). `labelSource` is the label
 * as a regular expression: --undo removes every host's forwards block.
 */
function markers(label = "", labelSource = escapeRegExp(label)) {
  const tag = (text: string) => (text === "" ? "" : ` ${text}`);
  const begin = `# >>> ssh-anchor${tag(label)} >>>`;
  /** The same marker, saying setup added a newline to end the line before it. */
  const beginAfterNewline = `# >>> ssh-anchor${tag(label)} (newline added above) >>>`;
  const end = `# <<< ssh-anchor${tag(label)} <<<`;
  const source = tag(labelSource);
  const block = new RegExp(`(\\n)?(# >>> ssh-anchor${source} >>>|# >>> ssh-anchor${source} \\(newline added above\\) >>>)\\n[\\s\\S]*?# <<< ssh-anchor${source} <<<\\n`, "g");
  return { begin, beginAfterNewline, end, block };
}

const MAIN = markers();
const BEGIN = MAIN.begin;
const BEGIN_AFTER_NEWLINE = MAIN.beginAfterNewline;
/** Every host's forwards block (setup --undo removes them all). */
const ANY_FORWARDS = markers("", "forwards [^\\n<>]+");

export interface SetupOptions {
  readonly shell: Shell;
  /** Link mode (no daemon) instead of the daemon. */
  readonly link?: boolean;
  /** The per-identity line of shared accounts (chosen without asking where per-identity is on already). */
  readonly perIdentity?: boolean;
  /** Also point ssh at the stable socket in ~/.ssh/config. */
  readonly sshConfig?: boolean;
  readonly home?: string;
  readonly uid?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** `setup --forwards HOST`: only this host's forwards block in ~/.ssh/config (no rc line). */
  readonly forwards?: HostForwards;
  /** Told, one line each, what setup decided on its own (the per-identity line chosen, a line already there, a symlink followed). */
  readonly note?: (line: string) => void;
  /** Told, one line each, why the line setup writes may not run at login. */
  readonly warn?: (line: string) => void;
  /** The command the rc line runs, by absolute path (default: the one running, ownCommand()); undefined: by name. */
  readonly command?: string;
}

/** One file setup would change: its text before and after. */
export interface FileChange {
  readonly file: string;
  /** Where the text is written: `file`, or the regular file a symlink at `file` leads to (the link stays). */
  readonly target: string;
  readonly before: string;
  readonly after: string;
}

/** The two places of src/shared/core/location.ts, in ssh_config's tokens. */
const HOME_DIRECTORY = "%d/.ssh/anchor-%l";
const TMP_DIRECTORY = "/tmp/ssh-anchor-%i";

/** ssh_config's test that a directory and the socket in it are the user's own (as shell/location.sh). */
function ownSocketTest(directory: string): string {
  return `Match exec "test -d ${directory} -a ! -h ${directory} -a -O ${directory} -a -S ${directory}/${SOCKET_NAME} -a ! -h ${directory}/${SOCKET_NAME} -a -O ${directory}/${SOCKET_NAME}"`;
}

const SSH_CONFIG_LINES = [
  "# Every ssh uses ssh-anchor's stable socket, whatever SSH_AUTH_SOCK says, but only once the",
  "# socket and its directory are provably yours (%d: your home, %l: this host, %i: your uid).",
  ownSocketTest(HOME_DIRECTORY),
  `    IdentityAgent ${HOME_DIRECTORY}/${SOCKET_NAME}`,
  ownSocketTest(TMP_DIRECTORY),
  `    IdentityAgent ${TMP_DIRECTORY}/${SOCKET_NAME}`,
  "Match all",
];

type Markers = ReturnType<typeof markers>;

/** Appends the block (rc files: last word wins) or prepends it (ssh_config: first value wins; bash's ~/.bashrc: see ShellRecord.rcAt). */
function withBlock(text: string, lines: readonly string[], where: "end" | "start", marks: Markers = MAIN): string {
  if (new RegExp(marks.block.source).test(text)) return text;
  if (where === "start") return `${marks.begin}\n${lines.join("\n")}\n${marks.end}\n${text}`;
  const needsNewline = text.length > 0 && !text.endsWith("\n");
  return `${text}${needsNewline ? `\n${marks.beginAfterNewline}` : marks.begin}\n${lines.join("\n")}\n${marks.end}\n`;
}

function withoutBlock(text: string, marks: Markers = MAIN): string {
  return text.replace(marks.block, (_block, newlineBefore: string | undefined, begin: string) =>
    // A block that setup started on a line of its own gave back the newline it consumed.
    newlineBefore !== undefined && !begin.includes("(newline added above)") ? "\n" : "",
  );
}

async function readText(file: string): Promise<string> {
  return readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw new UserError(`cannot read ${file}: ${error.code}`);
  });
}

/**
 * Where a file setup may change keeps its text: itself, or the regular file of the user's own a
 * symlink there leads to (dotfiles), or nothing yet.
 * @throws {UserError} for anything else (another user's file, a link leading nowhere or out of the user's hands).
 */
async function whereToWrite(file: string, uid: number): Promise<{ target: string; exists: boolean }> {
  const where = await ownFileBehindLink(file, uid);
  if (where.kind === "refused") {
    throw new UserError(`${where.reason}: setup changes only a regular file of yours, or the one a symlink of yours leads to; nothing was changed`);
  }
  return where.kind === "missing" ? { target: file, exists: false } : { target: where.path, exists: true };
}

/** The form of the init line setup writes: the one asked for, else per-identity where it is on, else the daemon's. */
function chosenForm(options: SetupOptions, evidence: PerIdentityEvidence | undefined, home: string): InitMode {
  if (options.link && options.perIdentity) {
    throw new UserError("--per-identity and --link do not go together: link mode has no daemon to tell people apart", 2);
  }
  if (evidence && options.link) {
    throw new UserError(
      `per-identity is on for this account (${describeEvidence(evidence, home)}): link mode would point every shell at whoever logged in last; run ssh-anchor setup without --link (it writes the per-identity line)`,
    );
  }
  if (evidence && options.sshConfig) {
    throw new UserError(
      `per-identity is on for this account (${describeEvidence(evidence, home)}): --ssh-config would point every ssh at the stable socket, which reaches whoever logged in last; run setup without it`,
    );
  }
  if (options.perIdentity) return "init --per-identity";
  if (options.link) return "init --link";
  if (evidence) {
    options.note?.(`per-identity is on for this account (${describeEvidence(evidence, home)}): setup writes the per-identity line`);
    return "init --per-identity";
  }
  return "init";
}

/** Whether a found line is the one inside setup's own block (the marker just above it). */
async function inSetupBlock(line: FoundInitLine, uid: number): Promise<boolean> {
  const { target, exists } = await whereToWrite(line.file, uid).catch(() => ({ target: line.file, exists: false }));
  if (!exists) return false;
  const above = (await readText(target)).split("\n")[line.line - 2] ?? "";
  return above === BEGIN || above === BEGIN_AFTER_NEWLINE;
}

/**
 * Whether the rc line may be added ("add"), must replace setup's own older line ("replace"), or
 * nothing is to be done ("keep"): never a second init line where the shell already runs one
 * (the last one run wins). The same form already there: kept, unless it is in setup's own block
 * and not the line setup writes now (an older setup's, which ran ssh-anchor by name): that one
 * is replaced. A line setup cannot read the form of (a saved script of someone else's): kept
 * too. Another form: refused, with the file, the line and the fix.
 */
async function rcLineAction(
  shell: KnownShell,
  form: InitMode,
  line: string,
  evidence: PerIdentityEvidence | undefined,
  home: string,
  uid: number,
  options: SetupOptions,
): Promise<"add" | "replace" | "keep"> {
  const note = options.note;
  const present = await initLinesIn(startupFilesOf(shell), { home, uid });
  const where = (line: FoundInitLine) => `${tildePath(line.file, home)} line ${line.line}`;
  const other = present.find((line) => line.form !== undefined && line.form !== form);
  if (other) {
    const danger =
      form === "init --per-identity" && evidence
        ? `; per-identity is on for this account (${describeEvidence(evidence, home)}) and that line points the shell at ${other.form === "init --link" ? "the newest login" : "the stable socket"}, which reaches whoever logged in last`
        : "";
    const fix = (await inSetupBlock(other, uid))
      ? `to change it: ssh-anchor setup --undo, then ssh-anchor setup${form === "init --link" ? " --link" : form === "init --per-identity" ? " --per-identity" : ""}`
      : `change that line to: ${line}`;
    throw new UserError(`${where(other)} already runs ssh-anchor ${other.form}: setup adds no second init line (the last one run wins)${danger}; ${fix}`);
  }
  const same = present.find((found) => found.form === form);
  if (same) {
    if (same.text !== line && line !== shell.rcLine(form) && (await inSetupBlock(same, uid))) {
      note?.(`${where(same)} is an older setup's line: setup replaces it with one that runs ssh-anchor by its path, on PATH or not`);
      return "replace";
    }
    note?.(`${where(same)} already runs ssh-anchor ${form}`);
    if (!/^\s*(?:eval\s+"\$\(\s*)?ssh-anchor\s/.test(same.text)) return "keep";
    note?.(`that line runs ssh-anchor by name: it works only where ssh-anchor is on PATH when the shell starts (ssh-anchor doctor runs each kind of shell and says)`);
    return "keep";
  }
  const unknown = present.find((line) => line.form === undefined);
  if (unknown) {
    note?.(
      `${where(unknown)} sources ${printable(unknown.sources ?? "a saved init script")}, which setup cannot read as one of yours: it counts as the init line, and setup adds no second one (to change its form: ssh-anchor ${form} ${shell.name} > that file)`,
    );
    return "keep";
  }
  return "add";
}

/** Directories whose contents do not outlive a reboot or a login, or are a cache (npx). */
const TRANSIENT = [/^\/tmp\//, /^\/var\/tmp\//, /^\/dev\/shm\//, /^\/run\/user\//, /\/_npx\//];

/**
 * Why the rc line setup writes may not run at a later login, one line each: the command is not
 * known (it runs ssh-anchor by name), lives where it will not be at login, or cannot be run.
 */
async function lineWarnings(command: string | undefined, line: string, env: NodeJS.ProcessEnv, home: string): Promise<string[]> {
  if (command === undefined) {
    return [
      `warning: setup cannot tell where this ssh-anchor is (not run as bin/ssh-anchor or the single executable), so the line runs it by name: it works only where ssh-anchor is on PATH when a shell starts; run setup as the installed ssh-anchor (for example ~/.local/bin/ssh-anchor setup)`,
    ];
  }
  const runtime = env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.startsWith("/") ? `${env.XDG_RUNTIME_DIR.replace(/\/+$/, "")}/` : undefined;
  // Under the home it lasts as long as the home does (wherever that is).
  const transient = TRANSIENT.some((pattern) => pattern.test(command)) || (runtime !== undefined && command.startsWith(runtime));
  if (transient && !command.startsWith(`${home}/`)) {
    return [`warning: the line runs ${printable(command)}, which is in a temporary directory and will not be there at a later login: install ssh-anchor (npm install -g --prefix ~/.local, or the single executable in ~/.local/bin) and run setup as that one`];
  }
  const runnable = await access(command, fsConstants.X_OK).then(() => true, () => false);
  return runnable ? [] : [`warning: the line runs ${printable(command)}, which cannot be run (${printable(line)}): run setup as the installed ssh-anchor`];
}

/**
 * What setup (or, with `undo`, setup --undo) would change. Changes nothing. Never adds an init
 * line where the shell's start-up files run one already, and never the plain or link line where
 * per-identity is on (src/shared/scope/account.ts): there it writes the per-identity line.
 * @throws {UserError} when another form of the init line is there, or what is asked for would
 * point shells at the stable socket on a per-identity account.
 * @example for (const change of await planSetup({ shell: "zsh" })) console.log(describeChange(change))
 */
export async function planSetup(options: SetupOptions, undo = false): Promise<FileChange[]> {
  const home = options.home ?? homedir();
  const uid = options.uid ?? currentUid();
  const sshConfig = join(home, ".ssh", "config");
  /** Each file and how its text changes. */
  const targets: Array<[string, (text: string) => string]> = [];
  if (options.forwards) {
    // The laptop's side of a host's forwards: that host's block in ~/.ssh/config, replaced
    // when it is there already (the forwards asked for now are the ones wanted), nothing else.
    const marks = markers(forwardsLabel(options.forwards.host));
    const lines = forwardsBlockLines(options.forwards);
    targets.push([sshConfig, (text) => (undo ? withoutBlock(text, marks) : withBlock(withoutBlock(text, marks), lines, "start", marks))]);
  } else {
    const shell = initShell(options.shell);
    if (undo) {
      targets.push([join(home, shell.rcFile), (text) => withoutBlock(text)]);
      targets.push([sshConfig, (text) => withoutBlock(withoutBlock(text), ANY_FORWARDS)]);
    } else {
      const evidence = await perIdentityEvidence({ uid, home, env: options.env });
      const form = chosenForm(options, evidence, home);
      const command = "command" in options ? options.command : ownCommand();
      const line = shell.rcLine(form, command, home);
      const action = await rcLineAction(shell, form, line, evidence, home, uid, options);
      if (action !== "keep") {
        targets.push([join(home, shell.rcFile), (text) => withBlock(action === "replace" ? withoutBlock(text) : text, [line], shell.rcAt)]);
        for (const warning of await lineWarnings(command, line, options.env ?? process.env, home)) options.warn?.(warning);
      }
      if (options.sshConfig) targets.push([sshConfig, (text) => withBlock(text, SSH_CONFIG_LINES, "start")]);
    }
  }
  const changes: FileChange[] = [];
  for (const [file, change] of targets) {
    const { target, exists } = await whereToWrite(file, uid);
    const before = exists ? await readText(target) : "";
    const after = change(before);
    if (after === before) continue;
    if (target !== file) options.note?.(`${tildePath(file, home)} is a symlink: setup changes the file it leads to, ${target}, and keeps the link`);
    changes.push({ file, target, before, after });
  }
  return changes;
}

/** Where a changed file's original is: made now, kept from an earlier change, or none (a new file). */
export interface Backup {
  readonly file: string;
  readonly backup: string | null;
  /** Whether this run made the backup (false: an earlier one did, and it is left alone). */
  readonly made: boolean;
}

/** The name of the copy setup keeps of a file's original. */
function backupPath(file: string): string {
  return `${file}.ssh-anchor-backup`;
}

/**
 * Writes the planned changes. The first time a file is changed its original is kept beside it
 * as `<file>.ssh-anchor-backup`, and that copy is never overwritten afterwards (not by a second
 * setup, not by --undo); files keep their mode; a missing ~/.ssh is created 0700.
 * @example await applySetup(await planSetup({ shell: "bash", sshConfig: true }))
 */
export async function applySetup(changes: readonly FileChange[], uid = currentUid()): Promise<Backup[]> {
  const backups: Backup[] = [];
  for (const change of changes) {
    await mkdir(dirname(change.file), { recursive: true, mode: 0o700 });
    // Asked again: what the plan saw must still be where it writes (a link re-pointed since is refused).
    const { target, exists } = await whereToWrite(change.file, uid);
    if (target !== change.target) throw new UserError(`${change.file} changed since setup read it (it now leads to ${target}); nothing was changed in it: run setup again`);
    const mode = exists ? (await stat(target)).mode : undefined;
    // The backup sits beside the name the user knows (~/.bashrc.ssh-anchor-backup), not in a dotfiles repository.
    const backup = backupPath(change.file);
    if (mode !== undefined) {
      const made = await copyFile(target, backup, fsConstants.COPYFILE_EXCL).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === "EEXIST") return false;
          throw new UserError(`cannot keep a backup of ${change.file} as ${backup}: ${error.code}; nothing was changed in it`);
        },
      );
      backups.push({ file: change.file, backup, made });
    } else {
      const earlier = await stat(backup).then(() => backup, () => null);
      backups.push({ file: change.file, backup: earlier, made: false });
    }
    // A new file beside the target, renamed over it: a symlink that led there still does.
    await replaceOwnFile(target, change.after, mode !== undefined ? mode & 0o7777 : 0o644);
  }
  return backups;
}

/**
 * What a run did with a changed file's backup, as one line for the user, or undefined when
 * there is nothing to say (--undo of a file that had none).
 * @example backupNote({ file: "/home/me/.bashrc", backup: "/home/me/.bashrc.ssh-anchor-backup", made: true }, false)
 */
export function backupNote({ file, backup, made }: Backup, undo: boolean): string | undefined {
  if (undo && made) return `backup of ${file} as it was before --undo: ${backup}`;
  if (undo) return backup ? `the backup ${backup} is left as it was (the original before setup's first change); remove it when you like` : undefined;
  if (made) return `backup of ${file}: ${backup}`;
  if (backup) return `backup of ${file}: ${backup} (kept from setup's first change)`;
  return `created ${file} (it did not exist: no backup)`;
}

/**
 * The lines a change adds or removes, as a unified-diff-like text for the user to read.
 * @example describeChange({ file: "/home/me/.zshrc", before: "", after: "eval ...\n" }) // "--- /home/me/.zshrc\n+++ ..."
 */
export function describeChange(change: FileChange): string {
  const before = change.before.split("\n");
  const after = change.after.split("\n");
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--;
    endAfter--;
  }
  const removed = before.slice(start, endBefore).map((line) => `-${line}`);
  const added = after.slice(start, endAfter).map((line) => `+${line}`);
  return [`--- ${change.file}`, `+++ ${change.file}`, `@@ line ${start + 1} @@`, ...removed, ...added].join("\n");
}

/**
 * What to tell a user whose rc line will run the npm package in logins where sshd's bare PATH
 * has no `node` (a Node from nvm or in ~/.local/bin): the line cannot start the daemon there.
 * Nothing for the single executable, which needs no Node.
 */
export async function loginPathNote(loginPath: string = SSHD_PATH): Promise<string | undefined> {
  if (CLI_ENTRY === process.execPath || (await onPath("node", loginPath))) return undefined;
  return `note: sshd's PATH (${loginPath}) has no node, so the rc line cannot start the daemon in a login: put your PATH line above it in the rc file, or use the single executable (docs/install.md)`;
}

