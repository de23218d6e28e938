/**
 * Runs `work` on every item, at most `limit` at a time, and resolves with the results in the
 * items' order. What a burst of file-system calls, connections or probes goes through, so that
 * thousands of items (another user's /tmp, dead logins' sockets, a shared account's agents)
 * cost a bounded number of descriptors and threads, never all of them at once. Items not
 * started yet are skipped (their result undefined) once `stopped()` says so.
 *
 * @example
 * const keys = await mapBounded(agents, LIMITS.probesInFlight, (agent) => book.probe(agent, now));
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>, stopped?: () => boolean): Promise<Array<R | undefined>> {
  const results = new Array<R | undefined>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stopped?.()) {
      const at = next++;
      results[at] = await work(items[at] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Resolves once `work` settles or `ms` have passed, whichever is first (neither its value nor
 * its failure is passed on): a wait that must not outlast its budget. The timer goes either way.
 *
 * @example
 * await withinMs(discovery.look(), TIMING.lookAgainMs);
 */
export function withinMs(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  const settled = work.then(
    () => undefined,
    () => undefined,
  );
  return Promise.race([settled, budget]).finally(() => clearTimeout(timer));
}
