/**
 * Milliseconds since the process started, on a monotonic clock: what `performance.now()` gives,
 * without it. The global `performance` loads eight of Node's own modules on first use (perf_hooks
 * with its timing, histogram and observer parts), about 100 KiB of a daemon's idle memory for one
 * number; `process.uptime()` reads the same clock (libuv's hrtime) from what is already loaded.
 * Only the difference of two readings means anything.
 */
export function monotonicMs(): number {
  return process.uptime() * 1000;
}
