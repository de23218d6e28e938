import { readFile, readlink, stat } from "node:fs/promises";
import { statSync } from "node:fs";
import { basename } from "node:path";
import { loginAgentSockets } from "./login-sockets.js";
import { isOwnSshd, TMP_AGENT_SOCKET } from "./layouts.js";

/**
 * The device the person is at: which login an agent socket belongs to (the user's own sshd
 * process of that login), the terminals that login holds, and when each last had keyboard
 * input (what `w` shows as IDLE: the pty's access time, which the kernel moves when a program
 * reads input from it).
 *
 * - The login: OpenSSH <= 10.0 names the socket `agent.<pid>` after that sshd process (checked:
 *   it must still be an sshd process of the user's); OpenSSH >= 10.1 does not, so the login is
 *   the user's own sshd process that holds the listening socket or, where its descriptors cannot
 *   be read (sshd-session is not dumpable), whose children sshd gave that socket as
 *   SSH_AUTH_SOCK (login-sockets.ts `loginAgentSockets`: one look at /proc when a login's agent
 *   first answers, never per request).
 * - Its terminals: the title sshd gives that process, `sshd: me@pts/3` (`sshd-session:` since
 *   9.8; `pts/3,pts/5` for a connection with several sessions), read from /proc/PID/cmdline.
 *   The title is sshd's own record of the ptys it allocated for the login: it is there as soon
 *   as the pty is, lists every session of a multiplexed connection, is readable without root
 *   (the process is the user's), and does not depend on what the shell did with its stdin.
 *   When it names none (a build that does not set titles), the login's children's standard
 *   input (/proc/PID/task/PID/children, then /proc/CHILD/fd/0) is asked instead. Only a
 *   `/dev/pts/N` that is a character device owned by the user counts (sshd gives the pty to
 *   the user): nothing of another user's is believed.
 * - Its last input: the pty's atime. The kernel records it at 8-second granularity (a typing
 *   rhythm is not something to give other users, CVE-2013-0160): input within the same 8 s slot
 *   as the terminal's last recorded input does not move it.
 */

/** A login of the user's: its sshd process and the terminals it holds (may be none). */
export interface LoginTerminals {
  readonly pid: number;
  readonly terminals: readonly string[];
}

/** A /dev/pts entry, the only terminals looked at (devpts: kernel memory, a stat never waits). */
const PTS = /^\/dev\/pts\/\d+$/;

/**
 * The login (sshd pid) of each agent socket in `paths` that has one: in the /tmp layout by its
 * name alone (sshd names the socket after the process that made and holds it: when that pid is
 * not one of the user's sshd processes, no other is the login, and a walk of /proc could not say
 * otherwise: a local ssh-agent's socket, or one whose maker is gone), elsewhere by which of the
 * user's sshd processes holds it (one walk of /proc for all of them, only when some path needs it).
 * @example await loginsOf(["/tmp/ssh-XXXX/agent.4242"], 1000) // -> Map { "/tmp/ssh-XXXX/agent.4242" => 4242 }
 */
export async function loginsOf(paths: readonly string[], uid: number): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const rest: string[] = [];
  await Promise.all(
    paths.map(async (path) => {
      const named = TMP_AGENT_SOCKET.exec(basename(path));
      if (!named) {
        rest.push(path);
        return;
      }
      const pid = Number(named[1]);
      if (Number.isSafeInteger(pid) && pid > 0 && (await isOwnSshd(pid, uid))) found.set(path, pid);
    }),
  );
  if (rest.length === 0) return found;
  const held = await loginAgentSockets(uid);
  for (const path of rest) {
    const pid = held.get(path);
    if (pid !== undefined) found.set(path, pid);
  }
  return found;
}

/**
 * The ptys named by an sshd title (`sshd: me@pts/3,pts/5`, `sshd-session: me@pts/0`):
 * everything after the last `@`, split on commas.
 * @example ptysInTitle("sshd: me@pts/3,pts/5\0") // -> ["/dev/pts/3", "/dev/pts/5"]
 * @example ptysInTitle("sshd: me@notty") // -> []
 */
export function ptysInTitle(title: string): string[] {
  const text = title.replace(/\0[\s\S]*$/, "").trim();
  if (!/^sshd(-session)?:/.test(text)) return [];
  const at = text.lastIndexOf("@");
  if (at < 0) return [];
  return text
    .slice(at + 1)
    .split(/[,\s]+/)
    .filter((part) => /^pts\/\d+$/.test(part))
    .map((part) => `/dev/${part}`);
}

/** The terminals the login `pid` holds, each a /dev/pts entry owned by `uid` (possibly none). */
export async function terminalsOf(pid: number, uid: number): Promise<string[]> {
  const title = await readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "");
  let candidates = ptysInTitle(title);
  if (candidates.length === 0 && !/@notty\b/.test(title)) candidates = await childrensTerminals(pid);
  const own = await Promise.all(
    [...new Set(candidates)].map(async (path) => {
      const stats = await stat(path).catch(() => undefined);
      return stats?.isCharacterDevice() && stats.uid === uid ? path : undefined;
    }),
  );
  return own.filter((path): path is string => path !== undefined);
}

/** The ptys on the standard input of the first few children of `pid` (the login's shells). */
async function childrensTerminals(pid: number): Promise<string[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "latin1").catch(() => ""))
    .trim()
    .split(/\s+/)
    .filter((child) => /^\d+$/.test(child))
    .slice(0, 8);
  const links = await Promise.all(children.map((child) => readlink(`/proc/${child}/fd/0`).catch(() => "")));
  return links.filter((link) => PTS.test(link));
}

/** Logins with their terminals, for each agent path that has a login. */
export async function loginTerminals(paths: readonly string[], uid: number): Promise<Map<string, LoginTerminals>> {
  const logins = await loginsOf(paths, uid);
  const result = new Map<string, LoginTerminals>();
  await Promise.all([...logins].map(async ([path, pid]) => result.set(path, { pid, terminals: await terminalsOf(pid, uid) })));
  return result;
}

/**
 * When `terminal` last had keyboard input (its atime, ms since the epoch) and its change time
 * (which tells a pty number given to another login since), or undefined when it is gone or not
 * the user's. Synchronous on purpose: only /dev/pts entries are asked (devpts lives in kernel
 * memory, a stat there never waits on a disk or a network), and it is asked while a connection
 * is routed, which must not wait on the thread pool.
 */
export function lastInputNow(terminal: string, uid?: number): { atimeMs: number; ctimeMs: number } | undefined {
  if (!PTS.test(terminal)) return undefined;
  try {
    const stats = statSync(terminal);
    if (uid !== undefined && stats.uid !== uid) return undefined;
    return { atimeMs: stats.atimeMs, ctimeMs: stats.ctimeMs };
  } catch {
    return undefined;
  }
}
