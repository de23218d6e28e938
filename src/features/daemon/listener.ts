import type { Server } from "node:net";
import { open, readFile, unlink } from "node:fs/promises";
import { socketAcceptsConnections } from "../../shared/core/dial.js";
import { UserError } from "../../shared/core/errors.js";
import { TIMING } from "../../shared/core/timing.js";
import { lstatOrUndefined, processPresence } from "../../shared/core/trust.js";
import { EXIT_ALREADY_RUNNING } from "../../shared/control/protocol.js";

/**
 * Runs `listen` (which starts `server` listening somewhere) and settles once: resolves when the
 * server listens, rejects with its first error.
 *
 * @example
 * await listening(server, () => server.listen({ fd: 3 }));
 */
export function listening(server: Server, listen: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    listen();
  });
}

/** Binds `server` to `path` with mode 0600 from the first moment: no chmod window. */
export function bindPrivately(server: Server, path: string): Promise<void> {
  return listening(server, () => {
    const previous = process.umask(0o177);
    try {
      server.listen(path);
    } finally {
      process.umask(previous);
    }
  });
}

/**
 * Listens on `path`, taking it over only from a dead daemon: a socket that still accepts
 * connections belongs to a live daemon and is never touched. A leftover socket (the daemon was
 * killed with SIGKILL) is removed under `lockFile`, so two daemons starting at once cannot both
 * remove each other's fresh socket.
 * @throws {UserError} with exitCode 3 when another daemon already serves `path`.
 */
export async function listenExclusively(server: Server, path: string, lockFile: string, uid: number): Promise<void> {
  try {
    await bindPrivately(server, path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw bindFailure(path, error);
  }
  await withLock(lockFile, async () => {
    if (await socketAcceptsConnections(path, TIMING.aliveCheckMs)) throw alreadyRunning(path);
    const stats = await lstatOrUndefined(path);
    if (stats) {
      if (!stats.isSocket() || stats.uid !== uid) {
        throw new UserError(`${path} exists and is not a socket of yours; remove it or choose another --socket`);
      }
      await unlink(path);
    }
    try {
      await bindPrivately(server, path);
    } catch (error) {
      throw bindFailure(path, error);
    }
  });
}

/** The refusal of `run` when another daemon already serves the socket (exit status 3). */
function alreadyRunning(path: string): UserError {
  return new UserError(`a daemon is already serving ${path}`, EXIT_ALREADY_RUNNING);
}

function bindFailure(path: string, error: unknown): UserError {
  return new UserError(`cannot listen on ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
}

/** Runs `critical` while holding an O_EXCL lock file; a lock left by a dead process is broken. */
async function withLock<T>(lockFile: string, critical: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + TIMING.startLockWaitMs;
  for (;;) {
    try {
      const handle = await open(lockFile, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt(await readFile(lockFile, "utf8").catch(() => ""), 10);
      if (processPresence(holder) === undefined) {
        await unlink(lockFile).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new UserError(`another ssh-anchor (pid ${holder}) holds ${lockFile}; try again`);
      await new Promise((r) => setTimeout(r, TIMING.startLockRetryMs));
    }
  }
  try {
    return await critical();
  } finally {
    await unlink(lockFile).catch(() => undefined);
  }
}
