import { MessageType } from "./messages.js";

/** One whole message: length prefix, type byte, body. */
export function encodeMessage(type: number, body: Uint8Array = new Uint8Array(0)): Buffer {
  const message = Buffer.allocUnsafe(5 + body.length);
  message.writeUInt32BE(1 + body.length, 0);
  message[4] = type;
  message.set(body, 5);
  return message;
}

/** SSH_AGENT_FAILURE, the answer to anything an agent will not or cannot do. */
export const FAILURE_MESSAGE: Buffer = encodeMessage(MessageType.FAILURE);

/** SSH_AGENT_IDENTITIES_ANSWER listing no keys. */
export const EMPTY_IDENTITIES_MESSAGE: Buffer = encodeMessage(
  MessageType.IDENTITIES_ANSWER,
  new Uint8Array([0, 0, 0, 0]),
);

/** SSH_AGENTC_REQUEST_IDENTITIES, the cheapest request every agent answers promptly. */
export const REQUEST_IDENTITIES_MESSAGE: Buffer = encodeMessage(MessageType.REQUEST_IDENTITIES);
