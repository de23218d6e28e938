/**
 * ssh-anchor as a library: the CLI is a thin layer over these.
 *
 * @example
 * import { Daemon } from "ssh-anchor";
 * const daemon = await Daemon.start({ socket: "/home/me/.ssh/anchor-devbox/agent.sock" });
 */
export { Daemon, type DaemonOptions } from "./daemon/daemon.js";
export { runDaemonProcess } from "./daemon/process-policy.js";
export { readStatus, startInBackground, stopDaemon } from "./control/lifecycle.js";
export { daemonPaths, type DaemonPaths } from "./core/location.js";
export type { AgentReport, StatusReport } from "./control/status.js";
export { rankAgents, type AgentHealth } from "./discovery/health.js";
export { AgentDiscovery } from "./discovery/discovery.js";
export { hostHash } from "./discovery/host-hash.js";
export type { Candidate, AgentKind } from "./discovery/candidate.js";
export { listIdentities, type AgentAnswer } from "./protocol/agent-client.js";
export { FrameScanner, FrameError } from "./protocol/frame-scanner.js";
export { parseIdentitiesAnswer, fingerprint, type Identity } from "./protocol/identities.js";
export { initScript, sshRcScript, SHELLS, type Shell } from "./shell/init.js";
export { ConnectSession } from "./connect/session.js";
export { parseConnectArgs, type ConnectRequest } from "./connect/args.js";
export { runDoctor, type DoctorReport, type Finding } from "./doctor/doctor.js";
export { linkPath, refreshLink } from "./link/link.js";
export { applySetup, describeChange, planSetup, type FileChange, type SetupOptions } from "./setup/setup.js";
export { UserError } from "./core/errors.js";
export { installService, uninstallService, serviceStatus, planService, type ServiceOptions } from "./service/service.js";
export { unitFiles, type UnitOptions } from "./service/units.js";
