import { homedir } from "node:os";
import { UserError } from "../../shared/core/errors.js";
import { GPG_FORWARD, gpgExtraSocket, localSocketRefusal, remoteForwardPath, socketLengthRefusal, type Forward } from "../../shared/core/forwards.js";
import { remoteFacts } from "../../shared/core/remote-facts.js";
import type { SshSettings } from "../../shared/core/ssh-config.js";
import { printable } from "../../shared/core/text.js";
import type { ConnectRequest } from "./args.js";
import { readForwardDefaults } from "./forward-defaults.js";
import { SCOPE_PREFIX_LENGTH } from "../../shared/scope/forward-token.js";

/** What connect forwards at every connection, and where on the host. */
export interface ForwardPlan {
  readonly forwards: readonly Forward[];
  /** The remote user's home (the forwards go to its ~/.ssh/anchor-forwards). */
  readonly home: string;
}

interface PlanOptions {
  readonly uid: number;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** One line for the log (and, when `terminal`, for the person too). */
  readonly note: (line: string, terminal: boolean) => void;
}

/**
 * The forwards connect sets up at every connection: --gpg and --forward, then the defaults of
 * ~/.config/ssh-anchor/connect.conf for the host. Each laptop socket must exist and be the
 * user's own (src/shared/core/trust.ts). The host's home comes from the cache, or from one
 * probe on first contact (src/shared/core/remote-facts.ts). Undefined when nothing is forwarded.
 * @throws {UserError} for a socket that may not be forwarded, or a host that cannot be asked.
 */
export async function planForwards(request: ConnectRequest, settings: SshSettings, options: PlanOptions): Promise<ForwardPlan | undefined> {
  const home = options.home ?? homedir();
  const defaults = await readForwardDefaults(request.destination, { uid: options.uid, home, env: options.env });
  const forwards: Forward[] = [...request.forwards];
  const named = (name: string) => forwards.some((forward) => forward.name === name);
  if ((request.gpg || defaults.gpg) && !named(GPG_FORWARD)) {
    const gpg = await gpgExtraSocket(options.env);
    if ("refusal" in gpg) throw new UserError(`--gpg: ${printable(gpg.refusal, 300)}`);
    forwards.unshift({ name: GPG_FORWARD, local: gpg.path });
  }
  for (const forward of defaults.forwards) if (!named(forward.name)) forwards.push(forward);
  if (forwards.length === 0) return undefined;
  for (const forward of forwards) {
    const refusal = await localSocketRefusal(forward, options.uid);
    if (refusal) throw new UserError(`cannot forward ${forward.name}: ${printable(refusal, 300)}`);
  }
  const facts = await remoteFacts(request.sshOptions, request.destination, settings, { uid: options.uid, home, env: options.env, note: options.note });
  for (const forward of forwards) {
    // The longest token decides: a scope id, "-" and 12 characters.
    const tooLong = socketLengthRefusal(remoteForwardPath(facts.home, forward.name, "x".repeat(SCOPE_PREFIX_LENGTH + 12)));
    if (tooLong) throw new UserError(`cannot forward ${forward.name} to ${printable(request.destination, 200)}: ${printable(tooLong, 300)} (the remote home is too long for the socket's path)`);
  }
  return { forwards, home: facts.home };
}
