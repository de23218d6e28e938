import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { mapBounded } from "../core/bounded.js";
import { processName } from "../core/trust.js";
import { isSshdName } from "./layouts.js";
import { readListeners } from "./unix-listeners.js";

/**
 * Which login a listening socket belongs to: the user's own sshd process that holds it. sshd's
 * per-login process (run as the user: `sshd: me@pts/0`, or `sshd-session` since OpenSSH 9.8)
 * holds both the agent socket it made for the login and every socket it listens on for that
 * login's RemoteForwards; so a forwarded gpg socket and an agent socket held by the same process
 * are the same person's login. Read from /proc: the listening sockets' inodes by path
 * (/proc/net/unix), and the socket inodes each of the user's own sshd processes holds
 * (/proc/PID/fd). Nothing of another user's is read (their /proc/PID/fd is not readable anyway).
 */

/** Calls on /proc in flight at once while the user's sshd processes are looked for: a host has
 * hundreds to thousands of processes, and each call in flight holds a request and its buffers
 * (all at once, measured: 4.5 MB more resident, kept by the allocator, for 80 processes). */
const PROC_CALLS_IN_FLIGHT = 8;

/** The user's own sshd processes (by /proc/PID's owner and its comm). */
async function ownSshdPids(uid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  await mapBounded(
    entries.filter((entry) => /^\d+$/.test(entry)),
    PROC_CALLS_IN_FLIGHT,
    async (entry) => {
      const stats = await stat(`/proc/${entry}`).catch(() => undefined);
      if (stats?.uid !== uid) return;
      const comm = await processName(Number(entry));
      if (comm !== undefined && isSshdName(comm)) pids.push(Number(entry));
    },
  );
  return pids;
}

/**
 * The listening socket paths held by each of the user's own sshd processes: path -> pid.
 * @example (await loginSockets(1000)).get("/home/me/.ssh/anchor-forwards/gpg.a1.sock") // -> 4242
 */
export async function loginSockets(uid: number): Promise<Map<string, number>> {
  const [listening, pids] = await Promise.all([readListeners().then((found) => found ?? new Map<number, string>()), ownSshdPids(uid)]);
  const held = new Map<string, number>();
  await Promise.all(
    pids.map(async (pid) => {
      for (const path of (await socketsHeldBy(pid, listening)) ?? []) held.set(path, pid);
    }),
  );
  return held;
}

/** The listening socket paths `pid` holds; undefined when its descriptors cannot be read. */
async function socketsHeldBy(pid: number, listening: ReadonlyMap<number, string>): Promise<string[] | undefined> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const paths: string[] = [];
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const path = inode === undefined ? undefined : listening.get(Number(inode));
    if (path !== undefined) paths.push(path);
  }
  return paths;
}

/** How many children of one sshd process have their environment read (its session's shells). */
const CHILDREN_READ = 8;
/** The variables that name the login's agent socket in its processes' environment: sshd's, and
 * the init line's copy of it once the line moved SSH_AUTH_SOCK to the stable socket. */
const AGENT_VARIABLES = /^(?:SSH_AUTH_SOCK|SSH_ANCHOR_ORIGINAL_SOCK)=(\/.*)$/;

/**
 * The agent socket of each of the user's logins: path -> the pid of the login's sshd process.
 * By the sockets that process holds where its /proc/PID/fd can be read (as loginSockets); sshd's
 * per-login process is not always readable so (OpenSSH's sshd-session changes to the user's uid
 * without an exec, which leaves it not dumpable: its /proc/PID/fd is root's to read), and then
 * by the environment sshd gave the login's own processes, its children (SSH_AUTH_SOCK is set by
 * sshd to exactly the socket it made for that login). Those children are the user's and readable.
 * The environment comes first, and what a process holds only fills in paths no child named: the
 * environment is what sshd wrote and nobody else can change, while which socket a descriptor
 * holds is matched through /proc/net/unix, where another user can forge a line (an inode that
 * is listed nowhere else, such as the sshd process's TCP connection's, given another login's
 * socket path: red team).
 * @example (await loginAgentSockets(1000)).get("/home/me/.ssh/agent/s.AbCdEfGhIj.sshd.k3J9") // -> 4242
 */
export async function loginAgentSockets(uid: number): Promise<Map<string, number>> {
  const [listening, pids] = await Promise.all([readListeners().then((found) => found ?? new Map<number, string>()), ownSshdPids(uid)]);
  // A few logins at a time, each child's environment read in turn: the /proc bound of ownSshdPids;
  // what sshd wrote into the environment first, what a process holds only where it named nothing.
  const named = await mapBounded(pids, PROC_CALLS_IN_FLIGHT, (pid) => agentSocketsOfChildren(pid, uid));
  const held = await mapBounded(pids, PROC_CALLS_IN_FLIGHT, async (pid) => (await socketsHeldBy(pid, listening)) ?? []);
  const found = new Map<string, number>();
  pids.forEach((pid, i) => {
    for (const path of named[i] ?? []) found.set(path, pid);
  });
  pids.forEach((pid, i) => {
    for (const path of held[i] ?? []) if (!found.has(path)) found.set(path, pid);
  });
  return found;
}

/** The agent sockets named in the environment of the first few children of `pid` that are the user's. */
async function agentSocketsOfChildren(pid: number, uid: number): Promise<string[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "latin1").catch(() => ""))
    .trim()
    .split(/\s+/)
    .filter((child) => /^\d+$/.test(child))
    .slice(0, CHILDREN_READ);
  const paths = await mapBounded(children, 1, async (child) => {
    try {
      if ((await stat(`/proc/${child}`)).uid !== uid) return [];
      const environ = await readFile(`/proc/${child}/environ`, "latin1");
      return environ.split("\0").flatMap((entry) => AGENT_VARIABLES.exec(entry)?.[1] ?? []);
    } catch {
      return [];
    }
  });
  return paths.flatMap((found) => found ?? []);
}
