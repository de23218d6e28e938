/**
 * One run of a piece of work per key at a time: a caller that comes while it runs gets the same
 * promise instead of starting a second run. For binds: two binds of one path at once would both
 * succeed in turn, the second unlinking the first's socket, whose server nobody then closes.
 *
 * @example
 * const binds = new SingleFlight<string | undefined>();
 * await binds.run(path, () => bind(path)); // a second run(path) meanwhile waits for this one
 */
export class SingleFlight<V> {
  readonly #running = new Map<string, Promise<V>>();

  run(key: string, work: () => Promise<V>): Promise<V> {
    let running = this.#running.get(key);
    if (!running) {
      running = work().finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    return running;
  }
}
