import { REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { RawAgentClient } from "../agent-client.js";
import { CONCURRENT_CLIENTS, CONCURRENT_MS } from "./settings.js";
import type { Target } from "./targets.js";

/** Requests per second with `clients` connections hammering at once, plus one idle client. */
async function throughput(target: Target): Promise<{ perSecond: number; errors: number }> {
  const idle = await RawAgentClient.open(target.path);
  const clients = await Promise.all(Array.from({ length: CONCURRENT_CLIENTS }, () => RawAgentClient.open(target.path)));
  let completed = 0;
  let errors = 0;
  const deadline = performance.now() + CONCURRENT_MS;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        try {
          const reply = await client.request(REQUEST_IDENTITIES_MESSAGE);
          if (reply[4] === MessageType.IDENTITIES_ANSWER) completed++;
          else errors++;
        } catch {
          errors++;
          break;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  for (const client of clients) client.close();
  idle.close();
  return { perSecond: (completed / elapsed) * 1000, errors };
}

/** Requests per second in each round, and errors over all rounds, by target name. */
export type Rates = Map<string, { perSecond: number[]; errors: number }>;

/** Step 2: throughput under concurrent clients, three rounds per target. */
export async function measureConcurrency(targets: readonly Target[]): Promise<Rates> {
  const rates: Rates = new Map(targets.map((t) => [t.name, { perSecond: [], errors: 0 }]));
  for (let round = 0; round < 3; round++) {
    for (const target of targets) {
      const result = await throughput(target);
      const entry = rates.get(target.name) as { perSecond: number[]; errors: number };
      entry.perSecond.push(result.perSecond);
      entry.errors += result.errors;
    }
  }
  return rates;
}
