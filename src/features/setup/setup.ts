import { constants as fsConstants } from "node:fs";
import { copyFile, mkdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UserError } from "../../shared/core/errors.js";
import { SOCKET_NAME } from "../../shared/core/location.js";
import { initShell, type Shell } from "../../shared/core/shells.js";
import { escapeRegExp } from "../../shared/core/text.js";
import { replaceOwnFile } from "../../shared/core/trust.js";

const BEGIN = "# >>> ssh-anchor >>>";
/** The same marker, saying setup added a newline to end the line before it. */
const BEGIN_AFTER_NEWLINE = "# >>> ssh-anchor (newline added above) >>>";
const END = "# <<< ssh-anchor <<<";
const BLOCK = new RegExp(`(\\n)?(${escapeRegExp(BEGIN)}|${escapeRegExp(BEGIN_AFTER_NEWLINE)})\\n[\\s\\S]*?${escapeRegExp(END)}\\n`);

export interface SetupOptions {
  readonly shell: Shell;
  /** Link mode (no daemon) instead of the daemon. */
  readonly link?: boolean;
  /** Also point ssh at the stable socket in ~/.ssh/config. */
  readonly sshConfig?: boolean;
  readonly home?: string;
}

/** One file setup would change: its text before and after. */
export interface FileChange {
  readonly file: string;
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

/** Appends the block (rc files: last word wins) or prepends it (ssh_config: first value wins). */
function withBlock(text: string, lines: readonly string[], where: "end" | "start"): string {
  if (BLOCK.test(text)) return text;
  if (where === "start") return `${BEGIN}\n${lines.join("\n")}\n${END}\n${text}`;
  const needsNewline = text.length > 0 && !text.endsWith("\n");
  return `${text}${needsNewline ? `\n${BEGIN_AFTER_NEWLINE}` : BEGIN}\n${lines.join("\n")}\n${END}\n`;
}

function withoutBlock(text: string): string {
  return text.replace(BLOCK, (_block, newlineBefore: string | undefined, begin: string) =>
    // A block that setup started on a line of its own gave back the newline it consumed.
    newlineBefore !== undefined && begin === BEGIN ? "\n" : "",
  );
}

async function readText(file: string): Promise<string> {
  return readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw new UserError(`cannot read ${file}: ${error.code}`);
  });
}

/**
 * What setup (or, with `undo`, setup --undo) would change. Changes nothing.
 * @example for (const change of await planSetup({ shell: "zsh" })) console.log(describeChange(change))
 */
export async function planSetup(options: SetupOptions, undo = false): Promise<FileChange[]> {
  const home = options.home ?? homedir();
  const shell = initShell(options.shell);
  const rcLine = shell.rcLine(options.link ? "init --link" : "init");
  const targets: Array<[string, readonly string[], "end" | "start"]> = [[join(home, shell.rcFile), [rcLine], "end"]];
  if (options.sshConfig || undo) targets.push([join(home, ".ssh", "config"), SSH_CONFIG_LINES, "start"]);
  const changes: FileChange[] = [];
  for (const [file, lines, where] of targets) {
    const before = await readText(file);
    const after = undo ? withoutBlock(before) : withBlock(before, lines, where);
    if (after !== before) changes.push({ file, before, after });
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
export async function applySetup(changes: readonly FileChange[]): Promise<Backup[]> {
  const backups: Backup[] = [];
  for (const change of changes) {
    await mkdir(dirname(change.file), { recursive: true, mode: 0o700 });
    const mode = (await stat(change.file).catch(() => undefined))?.mode;
    const backup = backupPath(change.file);
    if (mode !== undefined) {
      const made = await copyFile(change.file, backup, fsConstants.COPYFILE_EXCL).then(
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
    await replaceOwnFile(change.file, change.after, mode !== undefined ? mode & 0o7777 : 0o644);
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
