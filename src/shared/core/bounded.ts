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
 * Resolves once `work` settles or `ms` have passed, whichever is first: true when `work` settled
 * in time (neither its value nor its failure is passed on), false when the budget ran out. A
 * wait that must not outlast its budget; the timer goes either way.
 *
 * @example
 * const finished = await withinMs(discovery.look(), TIMING.lookAgainMs);
 */
export function withinMs(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = work.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, budget]).finally(() => clearTimeout(timer));
}
