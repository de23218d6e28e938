/**
 * The timing policy, in one table (in the manner of the block of named limits at the top of
 * OpenSSH's ssh-agent.c): every timeout, deadline, probe budget, interval and backoff of the
 * daemon, of the commands that talk to it, of doctor's and link mode's probes, of the programs
 * ssh-anchor runs and of connect. Everything that waits reads its number here, so the zombie
 * rule (docs/how-it-works.md, "Zombies") is changed in this file, and in daemon/policy.ts for how the
 * per-agent deadlines are computed from these numbers. Milliseconds unless named otherwise.
 * (Bounds on resources that are not times are the daemon's LIMITS, in daemon/policy.ts.)
 *
 * It lives in the shared core because doctor, link mode and connect wait too and must not
 * reach into the daemon for their budgets.
 */
export const TIMING = {
  // The zombie rule: when an unanswered request gets its agent probed, when a probe's silence
  // makes the agent a zombie, and how long a client is kept waiting at most.

  /** Default of `run --reply-timeout`: a request unanswered this long gets its agent probed, at
   * most (agents with a history of fast probes are probed sooner, see replyDeadline). An agent
   * answers an ordinary request in one round trip; a second is far beyond a far laptop's. */
  replyTimeoutMs: 1000,
  /** Default of `run --probe-timeout`: a probe unanswered this long makes the agent a zombie, at
   * most (see probeVerdictDeadline); also how long a probe judged silent early keeps listening
   * for a late answer. Twice the reply timeout: a probe is one more round trip through sshd. */
  probeTimeoutMs: 2000,
  /** Default of `run --max-wait` (which is in seconds): a request is never kept waiting on an
   * agent that fails its probes longer than this; a minute covers a confirmation dialog. */
  maxWaitMs: 60_000,
  /** An answer is overdue after this many times the agent's slowest recent probe round trip
   * (plus `rttSlackMs`): agents answer ordinary requests in about one round trip, so four of
   * them is overdue without being jittery. */
  rttFactor: 4,
  /** Added to that multiple (twice for a probe's verdict): absorbs the scheduling noise of a
   * nearby laptop whose round trips are a few ms. */
  rttSlackMs: 50,
  /** Successful probe round trips remembered per agent: the window "slowest recent" looks at. */
  rttHistory: 8,
  /** Never probe a request's agent sooner than this: shorter gains little and costs a probe
   * (one forwarded channel to the laptop) for every request a busy agent answers a bit late. */
  minReplyDeadlineMs: 150,
  /** A probe is judged silent no sooner than this (but it keeps listening until the full probe
   * timeout: a late answer makes the agent live again at once). */
  minProbeVerdictMs: 250,
  /** How often the daemon looks at unanswered requests while connections are open: the
   * resolution of the reply deadline, whose floor is minReplyDeadlineMs. */
  sweepMs: 100,
  /** An agent that answered the probe about a late request (slow but alive: a touch, a
   * confirmation, an unlock prompt) is not probed again for that connection before this. */
  recheckAliveMs: 5000,
  /** A zombie is probed again after this long, the pause doubling after each probe up to
   * `zombieReprobeMaxMs`: one that wakes up is used again, one that never does costs a probe a
   * minute. */
  zombieReprobeFirstMs: 5000,
  zombieReprobeMaxMs: 60_000,
  /** How often due zombie re-probes are looked for (only while there are zombies): the
   * resolution of that backoff. */
  zombieReprobeTickMs: 1000,
  /** A socket that refused its first connection and never answered is probed again after this
   * long, the pause doubling up to `refusedNewSocketMaxMs`: sshd and ssh-agent bind the socket
   * a moment before they listen on it, and on a busy machine the daemon's first probe can fall
   * in between. Without a second look such a login would count as dead until it is replaced. */
  refusedNewSocketFirstMs: 250,
  refusedNewSocketMaxMs: 4000,
  /** A socket older than this that refuses connections and never answered is a dead login's
   * (stale): it is not looked at again, nor its directory read again. Past the whole series of
   * looks above (250 ms doubling to 4 s, about 8 s) with room to spare. */
  staleSocketAgeMs: 30_000,
  /** A connection that finds no agent looks again at the places a new login appears, for at
   * most this long before it is answered as an empty agent: a new login's own first command
   * (`ssh -A host git pull`) races the change notification for its socket. A look takes a few
   * ms; the bound matters on a slow file system or a machine under heavy load, where an empty
   * answer is the one outcome worse than waiting (a loaded CI run once saw a look outlast 300 ms). */
  lookAgainMs: 1000,
  /** A connection with agents to choose from, when the temporary root changed since its last
   * listing (a login may have just appeared), waits at most this long for the same look before
   * it is routed among the agents already known. */
  freshenLookMs: 300,
  /** New candidates are sorted by whether anything listens at their paths (the stale triage),
   * from a listing read off the event loop; a request right after they appeared waits for it
   * at most this long (a few ms normally; another user can make the read take seconds), then
   * goes on without it (it meets at most LIMITS.deadTriedPerRequest dead sockets in turn). */
  triageWaitMs: 200,

  // The device the person is at (discovery/presence.ts): each login's terminal's last input.

  /** A connection being routed reads the logins' terminals' last input (one stat of a /dev/pts
   * entry each, in kernel memory) unless that was done less than this ago: a burst of
   * connections costs one look per this long, and a keystroke is seen by the first request
   * after it (the kernel itself records terminal input only at 8 s granularity). */
  presenceFreshMs: 20,
  /** A live agent whose login or terminal was not found yet (sshd makes the agent socket before
   * it starts the login's shell and before the pty; a login without a pty) is looked for again
   * after this long, the pause doubling, until it would pass `terminalRetryMaxMs` (about two
   * minutes of looks in all; then it ranks by its start): a login's own look at /proc each time
   * (its sshd's title; for the 10.1 layout one walk of the user's sshd processes). */
  terminalRetryFirstMs: 250,
  terminalRetryMaxMs: 64_000,

  // Forwarded sockets beyond the agent (gpg-agent, named forwards: docs/forwards.md).

  /** A forwarded gpg-agent that has not greeted this long after the connect (gpg-agent greets
   * at once: one round trip through sshd to the laptop) is a zombie login and the next newest is
   * tried: well under the 1 s target, above a far laptop's round trip. Also bounds the connect
   * to a forward and a probe of one. */
  forwardGreetingMs: 500,
  /** ...but the last forward left is waited for this long: a very slow laptop is better than
   * none (gpg's own connect gives up after about as long). */
  forwardLastGreetingMs: 10_000,
  /** How often the forwards' logins are checked (their sshd still there, by pid; a signal 0
   * each): a dead forward's socket is removed within this plus a connect of the 1 s target.
   * Less often while listing the system's sockets is slow (forward-book.ts, SWEEP_LISTING_SHARE). */
  forwardSweepMs: 250,
  /** A zombie forward is probed again this long after it was judged silent: a laptop that wakes
   * is used again (one forwarded channel each time, only for zombies). */
  forwardRecheckMs: 2000,
  /** How long the answer to "is per-identity on for this account" (start-up files read) holds for
   * the unscoped stable forward sockets: gpg opens a few connections per signature, each must not
   * read the rc files again; turning per-identity on takes effect within this. */
  perIdentityAnswerMs: 1000,
  /** How long connect (and setup --forwards) waits for the laptop's own agent to list its keys,
   * to name the person's scope in the forwards' token: a local agent answers in milliseconds;
   * one that does not within this gets unscoped forwards, not a stalled connect. */
  laptopAgentScopeMs: 1000,

  // Probes outside the daemon: one at a time, with no history to judge by.

  /** How long doctor waits for any one agent: a zombie must not make it hang, and a live one
   * through sshd answers well within it. */
  doctorProbeMs: 1500,
  /** doctor counts a start-up file as changed since its shell started only when it was modified
   * more than this after the start: the start time comes from the boot time, which /proc/stat
   * gives in whole seconds, plus clock ticks, so it can read up to a second early, and a file
   * saved just before the shell read it must not look edited afterwards. */
  startupFileSlackMs: 1000,
  /** How long link mode waits for one agent before trying the next: it runs at a prompt, where
   * each zombie in the way costs the person this long. */
  linkProbeMs: 1000,

  // Talking to a running daemon, and starting or stopping one.

  /** How long a command waits for the daemon's answer on the control socket, and how long the
   * daemon keeps a control connection that has not sent its command line. */
  controlAnswerMs: 5000,
  /** How long `stop` waits for the daemon to acknowledge "stop" before signalling its pid. */
  controlStopMs: 2000,
  /** A scope request probes the login's agent and maybe others (2 s each at most, in parallel). */
  scopeRequestMs: 8000,
  /** How long a background daemon may take to start serving. */
  daemonStartMs: 5000,
  /** How long a stopping daemon may take to let go of its socket. */
  daemonStopMs: 5000,
  /** How often start and stop look whether the daemon serves (or has let go of) its socket,
   * and how long each look may take: a start is noticed within a few dozen ms, and a look at
   * a daemon busy starting does not use up the whole start budget. */
  lifecyclePollMs: 25,
  lifecycleAliveCheckMs: 500,
  /** How long a liveness check of an existing socket may take (no answer counts as alive). */
  aliveCheckMs: 1000,
  /** How long a starter waits for another starter holding the start lock. */
  startLockWaitMs: 3000,
  /** How often a starter waiting for the start lock tries it again: the holder only checks one
   * socket and binds, a matter of milliseconds, so a short pause costs little. */
  startLockRetryMs: 50,

  // The daemon's upkeep.

  /** Default of `service install --idle-exit` (seconds): under socket activation the daemon
   * exits after this long with no client; systemd keeps the socket, so the next connection
   * starts it again within a fraction of a second. Ten minutes keeps a working session's daemon
   * up and an idle host's memory free. */
  serviceIdleExitSeconds: 600,

  /** After running out of file descriptors, new connections are closed at once for this long
   * (or until a connection ends and frees some): open ones keep being served. */
  shedMs: 250,
  /** Full rescans of the agent directories: a safety net for missed change notifications. */
  rescanMs: 60_000,
  /** How often the daemon checks that its socket file is still there (tmp cleaners, rm -rf). */
  socketCheckMs: 5000,
  /**
   * How long the directory guard keeps trying to take its directory's name back once a removal
   * has begun. `rm -rf` (or a tmp cleaner) deletes the files first and the directory last, so
   * the guard is already trying when the name becomes free and takes it within microseconds,
   * before another user woken by the same inotify event can. A removal of a handful of files
   * takes well under a millisecond; the bound only matters when something deletes a file and
   * leaves the directory (the guard spins synchronously meanwhile, so it must stay short).
   */
  reclaimSpinMs: 50,
  /** How often the memory keeper looks at the heap and the traffic: often enough that a burst's
   * pages go back soon after it, rarely enough to cost nothing while idle. */
  memoryCheckMs: 5000,
  /** How often the memory keeper collects the young generation while the daemon idles (see
   * MemoryKeeper): the few KiB of garbage of each periodic look do not pile up in resident pages. */
  idleScavengeMs: 10_000,
  /** A file-system call on a path another user can create (an entry of /tmp) gives up after this
   * long: on a local file system such a call takes microseconds, so a second means a file system
   * that does not answer (another user's FUSE mount); the path is then skipped, and not asked
   * again while the call is still out (src/shared/core/foreign-fs.ts). */
  foreignCallMs: 1000,
  /** The session directories' root (/tmp) is not watched (another user's churn there would wake
   * the daemon at every change): a connection compares its mtime with the last listing's. An
   * mtime this close to the listing's start may hide a change made in the same clock tick
   * (tmpfs keeps a coarse clock, a few ms), so such a listing is not trusted and read again. */
  racyListingMs: 50,
  /** A session-directory root of tens of thousands of entries (another user's junk) is listed
   * again at most this often when its mtime keeps moving: another user's churn over it would
   * otherwise cost a listing per connection (measured 0.1 s of CPU each for 200,000 entries). */
  longListingRelistMs: 2000,
  /** A directory that changed is read again after this delay, so a burst of events costs one read. */
  settleMs: 15,
  /** A new session directory of ours is watched this long for its socket to appear: sshd
   * creates the socket right after the directory, so ten seconds is ample. */
  newDirectoryWatchMs: 10_000,
  /** How soon one full scan replaces the directory re-reads when too many are waiting (someone
   * filling /tmp with directories). It backs off, doubling up to `overflowRescanMaxMs`, while
   * the flood goes on (someone churning names in /tmp must not buy a full scan a second from
   * every user's daemon), and starts again from this once that long has been quiet. */
  overflowRescanFirstMs: 1000,
  /** The minute of the periodic rescan: a flood never makes full scans more frequent than that. */
  overflowRescanMaxMs: 60_000,
  /** The window over which uncaught exceptions are counted (LIMITS.uncaughtPerMinute): one is a
   * bug to log, that many within a minute means the state is broken. */
  uncaughtWindowMs: 60_000,
  /** A condition that repeats (out of descriptors, no agent to answer with) is logged at most
   * this often: the log says it once, not once per connection. */
  repeatedLogMs: 10_000,

  // Programs ssh-anchor runs, and connect.

  /** How long doctor waits for tmux, screen or `ssh -G` to answer: each is local and answers
   * in milliseconds; a hung tmux server must not make doctor hang. */
  doctorProgramMs: 5000,
  /** How long doctor lets one shell it starts (bash -lic, bash -ic, ...) run the user's start-up
   * files and print its SSH_AUTH_SOCK: the init line may start the daemon (a Node start-up, about
   * a second on a loaded machine), and the user's own files may do slow things of their own. A
   * shell that takes longer is reported as not getting the socket, with the time it was given. */
  doctorShellStartMs: 10_000,
  /** How long connect waits for `ssh -G` before the first connection: longer than doctor's, as
   * a config's `Match exec` may run a command of its own. */
  sshConfigMs: 10_000,
  /** How long `systemctl --user` and `loginctl` may take: a user manager that is starting up
   * or reloading answers late, and `enable --now` waits for the socket to be bound. */
  systemctlMs: 15_000,
  /** How long stty may take to save or set the terminal's line settings (it never waits). */
  sttyMs: 2000,
  /** Default of `connect --alive-interval` (seconds between ssh's keepalives) and of
   * `--alive-count-max` (unanswered ones before ssh gives the connection up): a dead connection
   * is noticed within 6-8 s, soon enough to reconnect while the person still waits, and an idle
   * one is never cut, as a keepalive every two seconds costs next to nothing. */
  aliveIntervalSeconds: 2,
  aliveCountMax: 3,
  /** ssh's ConnectTimeout (seconds) when the user's config sets none: a host that does not
   * answer is an attempt that failed, not a reconnect loop that hangs on ssh's own default. */
  sshConnectTimeoutSeconds: 10,
  /** After a lost connection's immediate retry fails, the next attempt waits this long, the
   * wait doubling up to `reconnectMaxDelayMs`: a dead network is not hammered, a laptop back on
   * the network is reattached within seconds. */
  reconnectFirstDelayMs: 1000,
  reconnectMaxDelayMs: 15_000,
  /** A connection that stayed up this long starts the doubling over; a shorter one carries it
   * on (a connection that keeps dropping is not retried ever faster). */
  stableConnectionMs: 30_000,
  /** While waiting to reconnect, the host's port is tried this often, each try bounded by the
   * same: the end of an outage is noticed within about a second. */
  reachabilityProbeMs: 1000,
  /** How often connect looks for ssh's "authenticated" marker file: the resolution of the
   * "connected in N ms" figure in the log. */
  connectedPollMs: 50,
  /** How often the countdown line is redrawn: often enough that its seconds never lag. */
  countdownRefreshMs: 250,
  /** An ssh that connect ends (a network change, a signal) gets SIGTERM, then SIGKILL after
   * this long: ssh exits at once on SIGTERM unless it is stuck. */
  sshKillGraceMs: 1000,
  /** Stopped by a signal, connect exits once its log is flushed, or after this long at most. */
  connectExitMs: 1000,
  /** How often the laptop's addresses, default route and clocks are compared: a change is
   * acted on within half a second, at a few microseconds a tick. */
  networkPollMs: 500,
  /** A wall-clock jump this much larger than the time that passed counts as sleep: well above
   * a tick's scheduling delay, well below any real suspend. */
  sleepGapMs: 3000,

  // install: each ssh round trip to the host is bounded (ssh's ConnectTimeout is
  // sshConnectTimeoutSeconds unless the user's config sets one).

  /** The probe: a login, `uname`, `node --version` and the installed ssh-anchor's `--version`
   * and `setup --dry-run` (a Node start-up each, about 0.1 s, several on a loaded host). */
  installProbeMs: 45_000,
  /** The copy's bound before the payload's own share: a login, writing the files, `npm install`
   * of a local tarball (a few seconds, no network needed) and setup. */
  installCopyBaseMs: 120_000,
  /** ...plus one second for every this many bytes sent: a link slower than 64 KiB/s (the single
   * executable, 34 MiB gzipped, in about nine minutes) is taken for a stalled one. */
  installCopyBytesPerSecond: 64 * 1024,
  /** The check in a fresh login: the daemon's start, `ssh-add -l` through it, and one
   * interactive login shell reading the user's start-up files. */
  installVerifyMs: 60_000,
  /** Of those, the login shell's own bound (when the host has `timeout`): a start-up file that
   * waits for input or hangs is reported, not waited for. */
  installShellCheckSeconds: 20,
  /** Running a single executable on the laptop to read its version before it is sent. */
  installLocalVersionMs: 15_000,

  // Forwarded sockets (connect --gpg/--forward, setup --forwards).

  /** The one probe of a host for its home (a login, a mkdir and three printf): asked once per
   * destination and cached, so it may include a password prompt someone answers; as install's. */
  remoteFactsProbeMs: 45_000,
  /** `gpgconf --list-dirs` and `gpgconf --launch gpg-agent`: local, a few ms; an agent's first
   * start reads its keys. */
  gpgconfMs: 10_000,
} as const;
