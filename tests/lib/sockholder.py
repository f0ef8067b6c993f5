#!/usr/bin/env python3
"""sockholder.py: holds taskapi's listening sockets across restarts.

What a systemd socket unit does (systemd/taskapi.socket.in), for the dev
stack and the tests, which run without systemd: it binds the sockets and
keeps them open for as long as it runs, starts taskapi with them passed
by socket activation (sd_listen_fds(3): descriptors 3, 4, ... and
LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), and restarts it on command.
During a restart the old master stops (serving what it holds) and only
then the new one starts, as `systemctl restart` does; meanwhile nginx's
connections wait in the sockets' backlog instead of being refused.

usage: sockholder.py --pid-file PATH [--owner USER] [--mode 0660]
                     [--backlog N] [--stop-timeout S]
                     --socket NAME=unix:PATH [--socket NAME=unix:PATH ...]
                     -- COMMAND [ARG...]

Signals to the holder (its pid is in --pid-file):
  HUP        restart: SIGTERM to taskapi, wait for it to exit (SIGKILL
             after --stop-timeout), start a new one on the same sockets
  TERM, INT  stop taskapi the same way, remove the socket files this
             holder made, exit
If taskapi exits on its own, the holder exits too, with its status (a
supervisor restarting a crashing master is not what this is for).
Standard library only; one JSON line on stderr per event.
"""

import argparse
import datetime
import json
import os
import pwd
import signal
import socket
import stat
import sys
import time

SIGS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def say(msg):
    """One JSON line, as taskapi's own log lines (LOG_FORMAT=json)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    sys.stderr.write(json.dumps({"time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": "info",
                                 "role": "sockholder", "pid": os.getpid(), "msg": msg}) + "\n")
    sys.stderr.flush()


class Holder:
    def __init__(self, args):
        self.args = args
        self.socks = []  # (name, socket, path, (st_dev, st_ino))
        self.child = 0

    def bind(self):
        owner = pwd.getpwnam(self.args.owner) if self.args.owner else None
        for spec in self.args.socket:
            name, _, addr = spec.partition("=")
            if not name or not addr.startswith("unix:"):
                raise SystemExit("sockholder: --socket NAME=unix:PATH, not %r" % spec)
            path = addr[5:]
            # A stale socket from an earlier run is replaced; anything
            # else at the path is not ours to remove.
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                s.bind(path)
            finally:
                os.umask(old)
            os.chmod(path, int(self.args.mode, 8))
            if owner is not None:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            s.listen(self.args.backlog)
            st = os.lstat(path)
            self.socks.append((name, s, path, (st.st_dev, st.st_ino)))
            say("holding %s at %s" % (name, path))

    def unlink(self):
        for name, s, path, ident in self.socks:
            try:
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == ident:
                    os.unlink(path)
            except OSError:
                pass
            s.close()

    def start(self):
        fds = [s.fileno() for _, s, _, _ in self.socks]
        names = ":".join(n for n, _, _, _ in self.socks)
        pid = os.fork()
        if pid == 0:
            try:
                # Out of the way of 3, 4, ... first, then into place.
                high = [os.dup(fd) for fd in fds]
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i, inheritable=True)
                os.closerange(3 + len(fds), 65536)
                env = dict(os.environ)
                env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)),
                           LISTEN_FDNAMES=names)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                os.execve(self.args.command[0], self.args.command, env)
            except BaseException as e:  # noqa: B036 - the child must never return
                say("exec %s: %s" % (self.args.command[0], e))
            os._exit(127)
        self.child = pid
        say("started %s as pid %d with %s" % (self.args.command[0], pid, names))

    def reap(self, block):
        """The child's exit status once it has exited, else None."""
        try:
            pid, status = os.waitpid(self.child, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            return None
        return os.waitstatus_to_exitcode(status)

    def stop(self):
        """SIGTERM, then wait; SIGKILL at --stop-timeout.  Returns its status."""
        t0 = time.monotonic()
        try:
            os.kill(self.child, signal.SIGTERM)
        except ProcessLookupError:
            pass
        killed = False
        while True:
            rc = self.reap(False)
            if rc is not None:
                break
            if not killed and time.monotonic() - t0 > self.args.stop_timeout:
                say("pid %d still running after %.0f s: SIGKILL" % (self.child, self.args.stop_timeout))
                os.kill(self.child, signal.SIGKILL)
                killed = True
            signal.sigtimedwait([signal.SIGCHLD], 0.1)
        say("pid %d stopped (status %d) in %d ms" % (self.child, rc, (time.monotonic() - t0) * 1000))
        self.child = 0
        return rc

    def run(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGS)
        self.bind()
        with open(self.args.pid_file + ".new", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(self.args.pid_file + ".new", self.args.pid_file)
        self.start()
        rc = 0
        while True:
            info = signal.sigtimedwait(list(SIGS), 1.0)
            if info is None or info.si_signo == signal.SIGCHLD:
                st = self.reap(False)
                if st is not None:
                    say("pid %d exited on its own (status %d): stopping" % (self.child, st))
                    rc = st if st >= 0 else 128 - st
                    break
            elif info.si_signo == signal.SIGHUP:
                say("restart: stopping pid %d" % self.child)
                self.stop()
                self.start()
            else:
                say("signal %d: stopping pid %d" % (info.si_signo, self.child))
                self.stop()
                break
        self.unlink()
        try:
            with open(self.args.pid_file) as f:
                if f.read().strip() == str(os.getpid()):
                    os.unlink(self.args.pid_file)
        except OSError:
            pass
        return rc


def main():
    ap = argparse.ArgumentParser(description="hold taskapi's sockets across restarts")
    ap.add_argument("--pid-file", required=True)
    ap.add_argument("--owner", default="")
    ap.add_argument("--mode", default="0660")
    ap.add_argument("--backlog", type=int, default=4096)
    ap.add_argument("--stop-timeout", type=float, default=30.0)
    ap.add_argument("--socket", action="append", required=True)
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    if not os.path.isabs(args.command[0]):
        raise SystemExit("sockholder: COMMAND must be an absolute path (execve)")
    return Holder(args).run()


if __name__ == "__main__":
    sys.exit(main())
