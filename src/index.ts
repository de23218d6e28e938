/**
 * ssh-anchor as a library: the CLI is a thin layer over these. Listed as the source is layered
 * (docs/architecture.md): the features, then the shared layer they stand on.
 *
 * @example
 * import { Daemon } from "ssh-anchor";
 * const daemon = await Daemon.start({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 */

// Features.
export { Daemon, type DaemonOptions } from "./daemon/daemon.js";
export { runDaemonProcess } from "./daemon/process-policy.js";
export { linkPath, refreshLink } from "./link/link.js";
export { ConnectSession } from "./connect/session.js";
export { parseConnectArgs, type ConnectRequest } from "./connect/args.js";
export { runDoctor, type DoctorReport, type Finding } from "./doctor/doctor.js";
export { applySetup, backupNote, describeChange, planSetup, type FileChange, type SetupOptions } from "./setup/setup.js";
export { installService, uninstallService, serviceStatus, planService, type ServiceOptions } from "./service/service.js";
export { unitFiles, type UnitOptions } from "./service/units.js";
export { initScript, sshRcScript, type InitOptions } from "./shell/init.js";

// The shared layer.
export { readStatus, startInBackground, stopDaemon } from "./control/lifecycle.js";
export type { AgentReport, StatusReport } from "./control/status.js";
export { AgentDiscovery } from "./discovery/discovery.js";
export { rankAgents, type AgentHealth } from "./discovery/health.js";
export { hostHash } from "./discovery/host-hash.js";
export type { Candidate, AgentKind } from "./discovery/candidate.js";
export { listIdentities, type AgentAnswer } from "./protocol/agent-client.js";
export { FrameScanner, FrameError } from "./protocol/frame-scanner.js";
export { parseIdentitiesAnswer, fingerprint, type Identity } from "./protocol/identities.js";
export { daemonPaths, type DaemonPaths } from "./core/location.js";
export { SHELL_RECORDS, SHELLS, shellNamed, setupShell, type Shell, type ShellRecord, type InitMode } from "./core/shells.js";
export { UserError } from "./core/errors.js";
