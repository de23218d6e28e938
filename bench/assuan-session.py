"""One gpg --sign's conversation with gpg-agent, without gpg: connect, the greeting, then 12
commands, each written as gpg writes them (the command, then its line feed, two writes), each
answer read before the next. Prints the median of SESSIONS sessions per socket, in rounds that
take the sockets in turn, as JSON: {"<path>": [round medians in ms]}.
python3 bench/assuan-session.py ROUNDS SESSIONS PATH..."""
import json, socket, sys, time

COMMANDS = [b"RESET", b"OPTION ttytype=xterm", b"GETINFO version", b"OPTION allow-pinentry-notify",
            b"OPTION agent-awareness=2.1.0", b"NOP", b"RESET", b"NOP", b"GETINFO pid", b"NOP", b"GETINFO version", b"NOP"]

def answer(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("closed")
        data += chunk
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if data.endswith(b"\n") and (last.startswith(b"OK") or last.startswith(b"ERR")):
            return

def session(path):
    t = time.perf_counter()
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    answer(s)
    for c in COMMANDS:
        s.send(c)
        s.send(b"\n")
        answer(s)
    s.close()
    return (time.perf_counter() - t) * 1000

rounds, sessions, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
out = {p: [] for p in paths}
for r in range(rounds):
    for i in range(len(paths)):
        p = paths[(r + i) % len(paths)]
        xs = sorted(session(p) for _ in range(sessions))
        out[p].append(xs[len(xs) // 2])
print(json.dumps(out))
