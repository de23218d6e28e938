import { join } from "node:path";
import { MAX_SOCKET_PATH_BYTES } from "../core/location.js";
import { UserError } from "../core/errors.js";
import { SCOPE_ID_SHAPE } from "./rule.js";

/** Scoped sockets are named `id-<16 hex>.sock`; the shell code recognises them by this shape. */
export const SCOPED_SOCKET_NAME = new RegExp(`^id-${SCOPE_ID_SHAPE}\\.sock$`);

/**
 * The scoped socket of scope `id`: in the stable socket's own private directory (so it obeys
 * the same trust rules and moves with it), length-checked like the stable socket.
 * @throws {UserError} when the path would be too long to bind.
 */
export function scopedSocketPath(directory: string, id: string): string {
  const path = join(directory, `id-${id}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new UserError(`scoped socket path ${path} is too long: it must fit in ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter --socket`);
  }
  return path;
}
