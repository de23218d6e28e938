import { crypto } from "../core/crypto.js";
import { MessageType } from "./messages.js";

/** One key an agent offers. The blob stays opaque: agents hold key types (security keys,
 * certificates) that no parser here needs to understand. */
export interface Identity {
  readonly keyType: string;
  readonly blob: Uint8Array;
  readonly comment: string;
}

/** OpenSSH caps the identities it reads from an agent at this count (authfd.c). */
const MAX_IDENTITIES = 2048;

/** `SHA256:<base64 without padding>`, as `ssh-add -l` prints it. */
export function fingerprint(blob: Uint8Array): string {
  return `SHA256:${crypto().createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Decodes a whole IDENTITIES_ANSWER message (type byte first, no length prefix).
 * @throws {Error} when the message is not a well-formed identities answer.
 */
export function parseIdentitiesAnswer(message: Uint8Array): Identity[] {
  const reader = new Reader(message);
  const type = reader.byte();
  if (type !== MessageType.IDENTITIES_ANSWER) {
    throw new Error(`expected an identities answer (12), got message type ${type}`);
  }
  const count = reader.uint32();
  if (count > MAX_IDENTITIES) throw new Error(`agent claims ${count} keys, more than ${MAX_IDENTITIES}`);
  const identities: Identity[] = [];
  for (let i = 0; i < count; i++) {
    const blob = reader.string();
    const comment = Buffer.from(reader.string()).toString("utf8");
    identities.push({ keyType: keyTypeOf(blob), blob, comment });
  }
  return identities;
}

/** The key type is the first string inside the blob; "unknown" if even that is malformed. */
function keyTypeOf(blob: Uint8Array): string {
  try {
    return Buffer.from(new Reader(blob).string()).toString("latin1");
  } catch {
    return "unknown";
  }
}

/** Bounds-checked reader of SSH wire types. */
class Reader {
  #offset = 0;
  readonly #view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number): void {
    if (this.#offset + n > this.bytes.length) throw new Error("truncated agent message");
  }
  byte(): number {
    this.#need(1);
    return this.bytes[this.#offset++] as number;
  }
  uint32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }
  string(): Uint8Array {
    const length = this.uint32();
    this.#need(length);
    const value = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
}
