/**
 * ssh-anchor as a library: the CLI is a thin layer over these. Listed as the source is layered
 * (docs/architecture.md): the features, then the shared layer they stand on.
 *
 * @example
 * import { Daemon } from "ssh-anchor";
 * const daemon = await Daemon.start({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 */

// Features.
export { Daemon, type DaemonOptions } from "./features/daemon/daemon.js";
export { runDaemonProcess } from "./features/daemon/process-policy.js";
export { linkPath, refreshLink } from "./features/link/link.js";
export { ConnectSession } from "./features/connect/session.js";
export { parseConnectArgs, type ConnectRequest } from "./features/connect/args.js";
export { runDoctor, type DoctorReport, type Finding } from "./features/doctor/doctor.js";
export { applySetup, backupNote, describeChange, planSetup, type FileChange, type SetupOptions } from "./features/setup/setup.js";
export { installService, uninstallService, serviceStatus, planService, type ServiceOptions } from "./features/service/service.js";
export { unitFiles, type UnitOptions } from "./features/service/units.js";
export { initScript, sshRcScript, type InitOptions } from "./features/shell/init.js";

// The shared layer.
export { readStatus, startInBackground, stopDaemon } from "./shared/control/lifecycle.js";
export type { AgentReport, StatusReport } from "./shared/control/status.js";
export { AgentDiscovery } from "./shared/discovery/discovery.js";
export { rankAgents, type AgentHealth } from "./shared/discovery/health.js";
export { hostHash } from "./shared/discovery/host-hash.js";
export type { Candidate, AgentKind } from "./shared/discovery/candidate.js";
export { listIdentities, type AgentAnswer } from "./shared/protocol/agent-client.js";
export { FrameScanner, FrameError } from "./shared/protocol/frame-scanner.js";
export { parseIdentitiesAnswer, fingerprint, type Identity } from "./shared/protocol/identities.js";
export { daemonPaths, type DaemonPaths } from "./shared/core/location.js";
export { SHELL_RECORDS, SHELLS, shellNamed, setupShell, type Shell, type ShellRecord, type InitMode } from "./shared/core/shells.js";
export { UserError } from "./shared/core/errors.js";
