"""What makes an environment's releases safe against concurrency and kills: the lock, the deploy
that holds the environment, the history of what was live, and the crash points the specs kill at.

Part of the release tool's library (installed beside release_environment.py). The rules:
- Every change to the environment's state runs under one flock (`.release.lock` in its directory).
- A deploy holds the environment from `new` until its `verify` (or its failure): `.release-deploy.json`
  names its release and the ssh connection it came by. Another `new` or a rollback waits for it. A
  holder with no step process (its release's `.release-active` flock is free) whose connection has
  closed, or that did nothing for `grace` seconds, is abandoned: a killed or timed-out job. The next
  deploy takes over and cleans up after it.
- The history (`.release-history.jsonl`, one JSON object a line, appended) records each release
  that went live and served, each that failed after its switch, and each rollback: rollback's
  "previous" is the release live before, skipping the bad and the rolled back.
- A step process dies with its ssh connection (a watchdog on its parent), so a timed-out job leaves
  nothing running on the server.
"""
import fcntl
import json
import os
import signal
import threading
import time

HOLDER = ".release-deploy.json"
HISTORY = ".release-history.jsonl"
ACTIVE = ".release-active"
CRASH_POINT = ".release-crash-point"


class Locked:
    """The environment's flock, for one change to its state (not for a whole deploy)."""

    def __init__(self, root):
        self.path = os.path.join(root, ".release.lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def hold_active(release_path):
    """Marks a release as worked on by this process for as long as it lives (an flock, freed by the
    kernel when the process dies, however it dies). Inheritable, so an exec'd rsync keeps it."""
    fd = os.open(os.path.join(release_path, ACTIVE), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.set_inheritable(fd, True)
    os.utime(os.path.join(release_path, ACTIVE))
    return fd


def is_active(release_path):
    """Whether a process holds the release's activity lock now."""
    path = os.path.join(release_path, ACTIVE)
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def last_activity(release_path):
    for name in (ACTIVE, ".release.json"):
        try:
            return os.path.getmtime(os.path.join(release_path, name))
        except OSError:
            continue
    return 0.0


def read_holder(root):
    try:
        with open(os.path.join(root, HOLDER), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ssh_connection():
    """The sshd process of the connection this step came by (its parent), or None (a shell, the recipe)."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/comm", encoding="utf-8") as f:
            return parent if f.read().strip().startswith("sshd") else None
    except OSError:
        return None


def connection_gone(holder):
    """Whether the ssh connection a deploy came by has closed (the pipeline's jobs keep one for all
    their steps, ControlMaster): its job was killed or timed out, nothing more will come by it."""
    conn = holder.get("connection")
    return bool(conn) and not os.path.exists(f"/proc/{conn}")


def write_holder(root, release):
    tmp = os.path.join(root, f"{HOLDER}.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"release": release, "since": time.time(), "pid": os.getpid(), "connection": ssh_connection()}, f)
    os.replace(tmp, os.path.join(root, HOLDER))


def release_holder(root, release):
    """Ends `release`'s hold on the environment (another deploy's hold is left alone)."""
    holder = read_holder(root)
    if holder and holder.get("release") == release:
        os.unlink(os.path.join(root, HOLDER))


def append_history(root, event, **fields):
    line = json.dumps({"time": time.time(), "event": event, **fields})
    with open(os.path.join(root, HISTORY), "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_history(root):
    try:
        with open(os.path.join(root, HISTORY), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill: the events before it stand
    return out


def previous_live(history, live, exclude=()):
    """The release that was live before `live`, by the history, skipping releases marked bad or
    rolled back from and those in `exclude` (no longer kept)."""
    bad = {e["release"] for e in history if e["event"] in ("failed", "rolled-back-from")}
    lives = [e["release"] for e in history if e["event"] == "live"]
    # The live one's last turn, and what was live before it.
    for i in range(len(lives) - 1, -1, -1):
        if lives[i] == live:
            for r in reversed(lives[:i]):
                if r != live and r not in bad and r not in exclude:
                    return r
            return None
    return None


def crash_point(root, name):
    """For the specs that kill a deploy at a precise instant: when the environment's crash-point
    file names this point, say so (a `.reached` file with this process group), then wait to be killed."""
    path = os.path.join(root, CRASH_POINT)
    try:
        with open(path, encoding="utf-8") as f:
            wanted = f.read().strip()
    except OSError:
        return
    if wanted != name:
        return
    # Only a process the specs then kill gets here, so no coverage data ever comes from it.
    with open(f"{path}.reached", "w", encoding="utf-8") as f:  # pragma: no cover
        f.write(f"{name} {os.getpid()} {os.getpgid(0)}\n")
    while True:  # pragma: no cover
        time.sleep(3600)


def die_with_connection():
    """A step dies with the ssh connection that started it: when its parent (sshd's session) goes,
    its whole process group is killed (pip and Django included), so a timed-out or killed job leaves
    nothing running. Only where the parent is sshd; a person's shell or the recipe's runuser differ."""
    parent = ssh_connection()
    if parent is None:
        return
    # Its own process group, so the kill reaches its children and nothing of sshd's.
    try:
        os.setpgid(0, 0)
    except OSError:
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        # Nothing to say it to: the connection's pipes are closed (a write would only raise).
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()
