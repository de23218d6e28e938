/** How much the switcher benchmark measures: `--quick` for a look, the default for docs/. */
export const QUICK = process.argv.includes("--quick");
/** Rounds of interleaved batches, and requests per batch, of the latency measures. */
export const ROUNDS = QUICK ? 3 : 10;
export const PER_ROUND = QUICK ? 50 : 200;
export const CONCURRENT_CLIENTS = 64;
export const CONCURRENT_MS = QUICK ? 1000 : 3000;
export const MEMORY_REQUESTS = QUICK ? 10_000 : 100_000;
export const STALE_DIRECTORIES = 2000;
export const SHELL_RUNS = QUICK ? 20 : 200;
