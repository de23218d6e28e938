import { connect, type Socket } from "node:net";
import { encodeMessage, REQUEST_IDENTITIES_MESSAGE } from "../../src/shared/protocol/encode.js";
import { MessageType } from "../../src/shared/protocol/messages.js";
import { makeKey, sshAdd } from "./agent.js";

/** A small deterministic PRNG (mulberry32): a failing run can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Adds `count` ed25519 keys with ~30-byte comments to the agent at `socket`, so that one
 * identities answer is about 6 KB with 65 keys (as a user with many keys has it).
 */
export async function addManyKeys(socket: string, directory: string, count: number): Promise<void> {
  const paths: string[] = [];
  for (let start = 0; start < count; start += 8) {
    const batch = Array.from({ length: Math.min(8, count - start) }, (_, i) =>
      makeKey(directory, `many-key-${String(start + i).padStart(3, "0")}-for-a-bigger-answer`),
    );
    paths.push(...(await Promise.all(batch)));
  }
  const result = await sshAdd(socket, paths, 60_000);
  if (result.code !== 0) throw new Error(`ssh-add of ${count} keys failed: ${result.stderr}`);
}

/** What one fresh request saw: its time to a whole answer (Infinity: none within the bound). */
export interface Timed {
  readonly ms: number;
  readonly keys: number;
}

/** Connects, sends one REQUEST_IDENTITIES, waits (at most `timeoutMs`) for the whole answer. */
export function timeRequest(path: string, timeoutMs: number): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ path });
    const chunks: Buffer[] = [];
    let received = 0;
    const done = (timed: Timed): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(timed);
    };
    const timer = setTimeout(() => done({ ms: Infinity, keys: -1 }), timeoutMs);
    socket.on("error", () => done({ ms: Infinity, keys: -1 }));
    socket.on("close", () => done({ ms: Infinity, keys: -1 }));
    socket.on("connect", () => socket.write(REQUEST_IDENTITIES_MESSAGE));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < 4) return;
      const all = Buffer.concat(chunks);
      if (received < 4 + all.readUInt32BE(0)) return;
      done({ ms: performance.now() - started, keys: all[4] === MessageType.IDENTITIES_ANSWER ? all.readUInt32BE(5) : -1 });
    });
  });
}

/**
 * `connections` clients that each pipeline `pipelined` REQUEST_IDENTITIES and never read an
 * answer, held open until `release()`.
 */
export async function holdNonReaders(path: string, connections: number, pipelined: number): Promise<{ release(): void; open(): number }> {
  const sockets: Socket[] = [];
  const burst = Buffer.concat(Array.from({ length: pipelined }, () => REQUEST_IDENTITIES_MESSAGE));
  for (let i = 0; i < connections; i++) {
    const socket = connect({ path });
    socket.on("error", () => undefined);
    socket.pause();
    socket.on("connect", () => socket.write(burst));
    sockets.push(socket);
    if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    release: () => {
      for (const socket of sockets) socket.destroy();
    },
    open: () => sockets.filter((socket) => !socket.destroyed).length,
  };
}

/** Message types a garbage client may frame: none that changes the agent's keys or locks it. */
const HARMLESS_TYPES = [MessageType.REQUEST_IDENTITIES, MessageType.SIGN_REQUEST, MessageType.EXTENSION, 0, 99, 200, 255];

function garbageFor(rand: () => number): Buffer | undefined {
  const pick = rand();
  const junk = (max: number) => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * max) }, () => Math.floor(rand() * 256)));
  if (pick < 0.5) return junk(200);
  if (pick < 0.9) {
    const type = HARMLESS_TYPES[Math.floor(rand() * HARMLESS_TYPES.length)] as number;
    return Buffer.concat([encodeMessage(type, junk(300)), junk(64)]);
  }
  return undefined; // connect and close
}

/**
 * `total` short connections of seeded garbage, `concurrency` at a time: half raw bytes, 40%
 * framed messages of harmless types with junk bodies and junk after, 10% connect-and-close.
 * Each connection ends after its bytes and is dropped after 2 s at the latest.
 */
export async function garbageBurst(path: string, total: number, concurrency: number, seed: number): Promise<void> {
  const rand = seeded(seed);
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const bytes = garbageFor(rand);
      const socket = connect({ path });
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.on("error", () => undefined);
      socket.on("data", () => undefined);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on("connect", () => {
        if (bytes) socket.end(bytes);
        else socket.destroy();
      });
    });
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

