"""Raw agent-protocol load from a separate process, as the research measured it.

    python3 bench/load.py one-connection PATH N [MESSAGE_HEX]
    python3 bench/load.py fresh-connections PATH N [MESSAGE_HEX]

Prints the latency of each request in microseconds as a JSON list. Warms up first.
"""
import json
import socket
import struct
import sys
import time

REQUEST_IDENTITIES = struct.pack(">IB", 1, 11)


def read_reply(sock):
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            raise ConnectionError("closed before the reply")
        header += chunk
    remaining = struct.unpack(">I", header)[0]
    while remaining:
        chunk = sock.recv(min(remaining, 65536))
        if not chunk:
            raise ConnectionError("closed mid-reply")
        remaining -= len(chunk)


def one_connection(path, count, message):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    for _ in range(50):
        sock.sendall(message)
        read_reply(sock)
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        sock.sendall(message)
        read_reply(sock)
        samples.append((time.perf_counter_ns() - started) / 1000)
    sock.close()
    return samples


def fresh_connections(path, count, message):
    samples = []
    for i in range(count + 10):
        started = time.perf_counter_ns()
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        sock.sendall(message)
        read_reply(sock)
        sock.close()
        if i >= 10:
            samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


if __name__ == "__main__":
    mode, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    message = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else REQUEST_IDENTITIES
    run = {"one-connection": one_connection, "fresh-connections": fresh_connections}[mode]
    print(json.dumps(run(path, count, message)))
