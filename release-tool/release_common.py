"""What every part of the release tool shares: its name in messages, the files that mark a release,
its errors, and the environment file as systemd reads it. Installed by django-deploy-testbed's
recipe beside the tool's other library modules.
"""
import os
import re
import sys

PROG = os.path.basename(sys.argv[0])
META = ".release.json"
READY = ".release-ready"


class Failure(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class Exited(Failure):
    """A command the tool ran exited non-zero (its own output already said why)."""


def say(message):
    # stderr: stdout carries only what a caller captures (`RELEASE=$(... new COMMIT)`, list, current).
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def read_env_file(path):
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (the recipe writes double quotes)."""
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            elif len(value) >= 2 and value[0] == value[-1] == '"':
                value = re.sub(r'\\([\\"`$])', r"\1", value[1:-1])
            env[key] = value
    return env
