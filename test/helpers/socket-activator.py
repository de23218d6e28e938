#!/usr/bin/env python3
"""Plays systemd's part in socket activation (a .socket unit with Accept=no) for the tests.

    socket-activator.py SOCKET COMMAND [ARG...]

Binds a listening Unix socket at SOCKET (mode 0600) and holds it for its whole life. Whenever
the socket has a connection waiting and no service runs, it starts COMMAND with the socket on
fd 3, LISTEN_FDS=1 and LISTEN_PID set to the service's own pid, as systemd does. Reports on
stdout, one line each: "listening", "started PID", "exited PID STATUS". On SIGTERM (or after
its time limit) it stops the service, closes the socket and removes its file.
"""
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time

LIMIT_S = 300  # never outlive a test run
SD_LISTEN_FDS_START = 3

path, command = sys.argv[1], sys.argv[2:]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
previous = os.umask(0o177)
listener.bind(path)
os.umask(previous)
listener.listen(128)
if listener.fileno() != SD_LISTEN_FDS_START:
    os.dup2(listener.fileno(), SD_LISTEN_FDS_START)

stopping = False


def stop(_signum, _frame):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)


def die_with_parent():
    # The service must not outlive the activator even when the test kills it with SIGKILL.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def report(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


env = dict(os.environ, LISTEN_FDS="1")
# sh learns its own pid ($$) and execs the service in place, so LISTEN_PID names the service.
wrapper = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"']
report("listening")
service = None
deadline = time.monotonic() + LIMIT_S
while not stopping and time.monotonic() < deadline:
    if service is None:
        try:
            ready, _, _ = select.select([SD_LISTEN_FDS_START], [], [], 0.05)
        except InterruptedError:
            continue
        if ready:
            service = subprocess.Popen(wrapper + command, env=env, pass_fds=(SD_LISTEN_FDS_START,), preexec_fn=die_with_parent)
            report("started %d" % service.pid)
    else:
        status = service.poll()
        if status is None:
            time.sleep(0.02)
        else:
            report("exited %d %d" % (service.pid, status))
            service = None

if service is not None:
    service.terminate()
    try:
        service.wait(5)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()
    report("exited %d %d" % (service.pid, service.returncode))
if listener.fileno() != SD_LISTEN_FDS_START:
    os.close(SD_LISTEN_FDS_START)
listener.close()
try:
    os.unlink(path)
except FileNotFoundError:
    pass
