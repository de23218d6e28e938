import type { Server } from "node:net";

/** The first descriptor systemd passes (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

/**
 * The listening socket systemd (or systemd-socket-activate) passed to this process, if any:
 * LISTEN_PID names this process and LISTEN_FDS is at least 1. The variables are removed so that
 * nothing this process starts believes they are meant for it.
 */
export function activationDescriptor(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const mine = env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) >= 1;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return mine ? SD_LISTEN_FDS_START : undefined;
}

/** Serves on an inherited listening socket. Closing it later does not unlink its path: the
 * socket file belongs to whoever bound it. */
export function listenOnDescriptor(server: Server, fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ fd }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
