#!/usr/bin/python3
"""The forced command of a CI deploy key: it deploys, and does nothing else.

Installed by django-deploy-testbed's recipe as /usr/local/bin/<project>-release-ssh, and named in
authorized_keys as `restrict,command="<project>-release-ssh ENV..." KEY`: `restrict` takes away
port, agent and X11 forwarding and the terminal; this program takes away the shell. sshd runs it
instead of whatever the client asked for, which arrives in SSH_ORIGINAL_COMMAND as one string (ssh
joins its arguments with spaces). It is split here without a shell, checked word by word, and run
with execv, so no value is ever parsed by a shell on the server. Two commands are allowed:

  <project>-release ENV STEP ARGS...   the release tool, for an environment this key deploys
  rsync --server ... RELEASE/          an upload into an unfinished release of such an environment,
                                       through rrsync (Debian's rsync), write-only

Everything else (a shell, another environment, a `--to` with `;` or `..`, a pip option outside the
allow-list, rsync anywhere else) is refused with exit code 126 and a line saying why.
"""
import json
import os
import re
import shlex
import sys

PROG = os.path.basename(sys.argv[0])
TOOL = PROG[: -len("-ssh")] if PROG.endswith("-ssh") else PROG
TOOL_PATH = os.environ.get("RELEASE_TOOL", f"/usr/local/bin/{TOOL}")
CONFIG = os.environ.get("RELEASE_TOOL_CONFIG", f"/etc/{TOOL}.json")
RRSYNC = os.environ.get("RELEASE_RRSYNC", "/usr/bin/rrsync")
REFUSED = 126

NAME = re.compile(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}")
COMMIT = re.compile(r"[0-9a-f]{7,64}")
# pip install options a deploy may pass (PIP_EXTRA_ARGS): where packages come from, and quietness.
# Each is a flag alone (0) or takes one value (1); nothing that writes elsewhere or runs other code.
PIP_OPTIONS = {
    "--no-index": 0, "--find-links": 1, "-f": 1, "--index-url": 1, "-i": 1, "--extra-index-url": 1,
    "--trusted-host": 1, "--prefer-binary": 0, "--only-binary": 1, "--no-cache-dir": 0,
    "--progress-bar": 1, "-q": 0, "--quiet": 0, "-v": 0, "--verbose": 0, "--timeout": 1, "--retries": 1,
}
PIP_VALUE = re.compile(r"[A-Za-z0-9._:/@%+=,-]{1,300}")


class Refused(Exception):
    pass


def release_arg(env, value):
    """A release: its name, or its path under the environment's releases (what `new` prints)."""
    releases = env["releases"].rstrip("/")
    name = value[len(releases) + 1:] if value.startswith(releases + "/") else value
    name = name.rstrip("/")
    if not NAME.fullmatch(name):
        raise Refused(f"{value!r} is not a release of this environment (a name under {releases})")
    return value


def pip_args(args):
    out, i = [], 0
    while i < len(args):
        flag, _, inline = args[i].partition("=")
        takes = PIP_OPTIONS.get(flag)
        if takes is None:
            raise Refused(f"pip option {args[i]!r} is not allowed (allowed: {', '.join(sorted(PIP_OPTIONS))})")
        values = [inline] if inline else args[i + 1:i + 1 + takes]
        if len(values) != takes or not all(PIP_VALUE.fullmatch(v) for v in values):
            raise Refused(f"pip option {flag}: its value {' '.join(values)!r} is missing or has characters not allowed")
        out += [args[i], *([] if inline else values)]
        i += 1 + (0 if inline else takes)
    return out


def tool_command(config, allowed, argv):
    if len(argv) < 3:
        raise Refused(f"expected {TOOL} ENV STEP ...")
    env_name, step, rest = argv[1], argv[2], argv[3:]
    if env_name not in allowed:
        raise Refused(f"this key deploys {', '.join(allowed)}, not {env_name!r}")
    env = config["envs"][env_name]
    django = [s["step"] for s in config.get("steps", []) if s.get("runs") == "django"]
    if step == "new" and len(rest) == 1 and COMMIT.fullmatch(rest[0]):
        pass
    elif step == "venv" and rest:
        rest = [release_arg(env, rest[0]), *pip_args(rest[1:])]
    elif step == "prepare" and len(rest) >= 2:
        steps = [s for s in rest[1:] if s != "--migrations"]
        if not all(s in django for s in steps):
            raise Refused(f"prepare: steps must be among {', '.join(django)}")
        release_arg(env, rest[0])
    elif step in ("switch", *django) and len(rest) == 1:
        release_arg(env, rest[0])
    elif step == "verify" and len(rest) <= 1:
        if rest:
            release_arg(env, rest[0])
    elif step == "rollback":
        i = 0
        while i < len(rest):
            if rest[i] == "--allow-migrations":
                i += 1
            elif rest[i] == "--to" and i + 1 < len(rest) and NAME.fullmatch(rest[i + 1]):
                i += 2
            else:
                raise Refused(f"rollback: {rest[i]!r}: expected --to ID (a release or a commit: letters, digits, '.', '_', '-') or --allow-migrations")
    elif step in ("list", "current", "facts") and not rest:
        pass
    elif step == "checklist" and all(a in ("--json", "--junit") or re.fullmatch(r"--retry-timeout=\d{1,4}(\.\d+)?", a) for a in rest):
        pass
    else:
        raise Refused(f"{TOOL} {env_name} {step}: not a deploy step this key may run, or wrong arguments")
    os.execv(TOOL_PATH, [TOOL_PATH, env_name, step, *rest])


def rsync_command(config, allowed, command, argv):
    """An upload into an unfinished release, through rrsync confined to its environment's releases."""
    if argv[:2] != ["rsync", "--server"] or "--sender" in argv:
        raise Refused("rsync: only uploads (rsync --server, not --sender) are allowed")
    dest = argv[-1]
    if command.split(" ")[-1] != dest:
        raise Refused(f"rsync: the destination {dest!r} must be a plain path")
    for name in allowed:
        releases = os.path.realpath(config["envs"][name]["releases"])
        path = os.path.realpath(dest.rstrip("/"))
        if os.path.dirname(path) != releases:
            continue
        release = os.path.basename(path)
        if not NAME.fullmatch(release) or not os.path.isfile(os.path.join(path, ".release.json")):
            raise Refused(f"rsync: {dest} is not a release made by `{TOOL} {name} new`")
        live = os.path.realpath(config["envs"][name]["live"])
        if path == live or os.path.exists(os.path.join(path, ".release-ready")):
            raise Refused(f"rsync: {release} is live or ready; a release is written only while it is being made")
        # The upload is work on the release, as a step is: its deploy stays held however long it
        # takes (the lock's descriptor passes through exec to rsync, and ends with it).
        sys.path.insert(0, os.environ.get("RELEASE_TOOL_LIB", f"/usr/local/lib/{TOOL}"))
        try:
            import release_state

            release_state.hold_active(path)
        except ImportError:
            pass
        # rrsync reads the path relative to the directory it confines to.
        os.environ["SSH_ORIGINAL_COMMAND"] = command[: len(command) - len(dest)] + f"/{release}/"
        os.execv(RRSYNC, [RRSYNC, "-wo", "-no-del", releases])
    raise Refused(f"rsync: {dest} is outside the releases of {', '.join(allowed)}")


def main(allowed):
    command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    if not command.strip():
        raise Refused("this key only deploys: no interactive shell")
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise Refused(f"cannot read the command ({e})") from None
    with open(CONFIG, encoding="utf-8") as f:
        config = json.load(f)
    unknown = [e for e in allowed if e not in config["envs"]]
    if unknown or not allowed:
        raise Refused(f"authorized_keys names environments this server does not have: {', '.join(unknown) or 'none'}")
    if os.path.basename(argv[0]) == TOOL:
        tool_command(config, allowed, argv)
    elif argv[0] == "rsync":
        rsync_command(config, allowed, command, argv)
    raise Refused(f"{argv[0]!r}: this key runs only {TOOL} and rsync uploads")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Refused as e:
        print(f"{PROG}: refused: {e}", file=sys.stderr, flush=True)
        sys.exit(REFUSED)
