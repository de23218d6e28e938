/**
 * SSH agent protocol constants (RFC 9987, OpenSSH PROTOCOL.agent).
 *
 * Every message on the wire is `uint32 length` (big-endian, counting the type byte and the
 * body), one `byte type`, then the body.
 */

/** OpenSSH's AGENT_MAX_LEN: ssh-agent drops a connection whose message is longer than this,
 * and its client side refuses longer replies. We apply the same bound in both directions. */
export const MAX_MESSAGE_LENGTH = 256 * 1024;

/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

export const MessageType = {
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  ADD_IDENTITY: 17,
  REMOVE_IDENTITY: 18,
  REMOVE_ALL_IDENTITIES: 19,
  ADD_SMARTCARD_KEY: 20,
  REMOVE_SMARTCARD_KEY: 21,
  LOCK: 22,
  UNLOCK: 23,
  ADD_ID_CONSTRAINED: 25,
  ADD_SMARTCARD_KEY_CONSTRAINED: 26,
  EXTENSION: 27,
  EXTENSION_FAILURE: 28,
  EXTENSION_RESPONSE: 29,
} as const;
