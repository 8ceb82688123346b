#!/usr/bin/python3
"""Releases of one Django project on this server: made, prepared, switched, rolled back.

Installed by django-deploy-testbed's recipe as /usr/local/bin/<project>-release, with its settings
in /etc/<project>-release.json. The recipe and the generated GitLab pipeline both deploy with it,
one visible step per command, run as the deploy user:

  new COMMIT                 an empty release for COMMIT, its `media` linked to the shared uploads;
                             prints its path (upload the code there)
  venv RELEASE [PIP ARGS]    links the release to the venv for its requirements.txt (built once)
  prepare RELEASE STEP... [--migrations]   these Django steps, in order, in one Django process:
    check                    manage.py check (with --deploy, failing on warnings, in production),
                             and the WSGI application imports (--migrations: makemigrations --check)
    collectstatic            into the release's own static/
    migrate                  manage.py migrate --noinput (migrations must suit the live code too)
  check | collectstatic | migrate RELEASE   one of them alone
  switch RELEASE             makes it live by one rename, restarts gunicorn (its socket is held by
                             systemd, so no request is dropped), and switches back if it does not serve
  verify [RELEASE]           GET / through nginx: 200, from RELEASE (default: the live one)
  rollback [--to ID] [--allow-migrations]   back to the previous release, or to ID (release or commit)
  list | current | clean

A step that fails removes the release it was preparing; the live release is never touched.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

PROG = os.path.basename(sys.argv[0])
CONFIG = os.environ.get("RELEASE_TOOL_CONFIG", f"/etc/{PROG}.json")
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


class Environment:
    def __init__(self, config, name):
        if name not in config["envs"]:
            raise Failure(f'environment "{name}": unknown; this server has {", ".join(config["envs"])}', 2)
        e = config["envs"][name]
        self.name = name
        self.project = config["project"]
        self.keep = int(config.get("keep", 5))
        self.live, self.releases, self.venvs, self.media = e["live"], e["releases"], e["venvs"], e["media"]
        self.env_file, self.unit, self.port = e["envFile"], e["unit"], int(e["port"])
        self.gunicorn = e["gunicorn"]  # the exact commands sudoers allows: "restart" and "start"
        self.django_steps = config["django"]  # release-django.py: what runs inside Django
        # "production" runs the deployment checks; an older config without tiers means none.
        self.tier = e.get("tier", "")

    # --- releases -------------------------------------------------------------------------------
    def release_path(self, release):
        path = os.path.realpath(release if "/" in release else os.path.join(self.releases, release))
        if os.path.dirname(path) != os.path.realpath(self.releases) or not os.path.isfile(os.path.join(path, META)):
            raise Failure(f"{release}: not a release of {self.name} (releases live in {self.releases})", 2)
        return path

    def current(self):
        if not os.path.islink(self.live):
            return None
        return os.path.basename(os.path.realpath(self.live))

    def all_releases(self):
        return sorted(n for n in os.listdir(self.releases) if os.path.isfile(os.path.join(self.releases, n, META)))

    def ready_releases(self):
        return [n for n in self.all_releases() if os.path.exists(os.path.join(self.releases, n, READY))]

    def meta(self, name):
        with open(os.path.join(self.releases, name, META), encoding="utf-8") as f:
            return json.load(f)

    def discard(self, path, why):
        name = os.path.basename(path)
        if name == self.current():
            return
        shutil.rmtree(path, ignore_errors=True)
        say(f"{self.name}: removed the half-made release {name} ({why}); {self.current() or 'nothing'} is live")

    def clean(self):
        """Releases that never became ready (an interrupted or failed deploy) and are not live."""
        live = self.current()
        for name in os.listdir(self.releases):
            path = os.path.join(self.releases, name)
            if name != live and os.path.isdir(path) and not os.path.exists(os.path.join(path, READY)):
                shutil.rmtree(path, ignore_errors=True)
                say(f"{self.name}: removed unfinished release {name}")

    def prune(self):
        """Keeps the newest `keep` ready releases and the live one, and only the venvs they use."""
        ready, live = self.ready_releases(), self.current()
        kept = set(ready[-self.keep:]) | ({live} if live else set())
        for name in ready:
            if name not in kept:
                shutil.rmtree(os.path.join(self.releases, name), ignore_errors=True)
        used = {os.path.basename(os.path.realpath(os.path.join(self.releases, n, f"{self.project}env"))) for n in self.all_releases()}
        for venv in os.listdir(self.venvs):
            if venv not in used:
                shutil.rmtree(os.path.join(self.venvs, venv), ignore_errors=True)

    # --- running Django -------------------------------------------------------------------------
    def manage(self, path, *args, capture=False):
        python = os.path.join(path, f"{self.project}env", "bin", "python")
        if not os.path.exists(python):
            raise Failure(
                f"{os.path.basename(path)}: has no venv: {os.path.dirname(os.path.dirname(python))} is missing. The venv step makes it; "
                "if that step ran, something removed it since (an rsync --delete into the release, say)"
            )
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8"}
        env.update(read_env_file(self.env_file))
        run = subprocess.run([python, "manage.py", *args], cwd=path, env=env, text=True, stdout=subprocess.PIPE if capture else None)
        if run.returncode != 0:
            raise Exited(f"manage.py {' '.join(args)} exited {run.returncode} in {os.path.basename(path)}", run.returncode)
        return run.stdout

    def django(self, path, function, *args, capture=False):
        """Calls one function of release-django.py inside the release's Django (one start-up)."""
        code = f"import runpy\nrunpy.run_path({self.django_steps!r})[{function!r}](*{list(args)!r})"
        # -v 0: Django 5.2's shell otherwise prints what it imported; only our own lines count.
        return self.manage(path, "shell", "-v", "0", "-c", code, capture=capture)

    def get(self, path, timeout=5):
        # Imported here: only switch and verify ask nginx, and urllib (with http and email) is a
        # third of the tool's start-up, which every step pays.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"Host": "localhost"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return r.status, r.headers.get("X-Release", "")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("X-Release", "")

    def wait_served(self, name, path, deadline_s=30):
        """Until `path` through nginx answers 200 from release `name`; the last answer otherwise."""
        end, last = time.monotonic() + deadline_s, "no answer"
        while time.monotonic() < end:
            try:
                status, release = self.get(path)
                last = f"{status} from {release or 'no X-Release header'}"
                if status == 200 and release == name:
                    return None
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        return last

    # --- the live switch ------------------------------------------------------------------------
    def point_live_at(self, name):
        """One rename(2) replaces the link: at every instant the live path is a whole release."""
        if os.path.exists(self.live) and not os.path.islink(self.live):
            raise Failure(f"{self.live} is a directory (a deploy from before releases); move it away and deploy again", 2)
        tmp = f"{self.live}.switch-{os.getpid()}"
        os.symlink(os.path.join(os.path.basename(self.releases), name), tmp)
        os.replace(tmp, self.live)

    def restart(self):
        # A running gunicorn restarts in place; one not running yet (the first deploy) starts with
        # its socket. Not "is the socket listening": a unit without one must still restart.
        running = subprocess.run(["systemctl", "is-active", "--quiet", self.unit]).returncode == 0
        command = self.gunicorn["restart" if running else "start"]
        run = subprocess.run(["sudo", "-n", *command], text=True, stderr=subprocess.PIPE)
        if run.returncode != 0:
            raise Failure(f"sudo {' '.join(command)} failed: {run.stderr.strip()}")

    def switch_to(self, name):
        previous = self.current()
        open(os.path.join(self.releases, name, READY), "w").close()
        self.point_live_at(name)
        started = time.monotonic()
        try:
            self.restart()
            problem = self.wait_served(name, "/healthz")
        except Failure as e:
            problem = str(e)
        if problem is None:
            say(f"{self.name}: live {previous or '(none)'} -> {name}, serving after {time.monotonic() - started:.1f} s")
            return previous
        if previous:
            self.point_live_at(previous)
            self.restart()
        raise Failure(f"{self.name}: {name} did not serve after the switch ({problem}); switched back to {previous or 'nothing'}")


def venv_key(requirements):
    digest = hashlib.sha256(f"{sys.version_info[0]}.{sys.version_info[1]}\0".encode() + requirements).hexdigest()
    return f"py{sys.version_info[0]}{sys.version_info[1]}-{digest[:16]}"


def step_new(env, commit):
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise Failure(f'commit "{commit}": expected a hex commit id', 2)
    env.clean()
    base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + commit[:8]
    name, n = base, 1
    while os.path.exists(os.path.join(env.releases, name)):
        name, n = f"{base}.{n}", n + 1
    path = os.path.join(env.releases, name)
    os.mkdir(path, 0o755)
    with open(os.path.join(path, META), "w", encoding="utf-8") as f:
        json.dump({"release": name, "commit": commit, "environment": env.name, "created": time.time()}, f)
    # Uploads are shared by every release: `media` links to them (the upload leaves it alone).
    os.symlink(os.path.relpath(env.media, path), os.path.join(path, "media"))
    print(path)


def step_venv(env, path, pip_args):
    requirements = open(os.path.join(path, "requirements.txt"), "rb").read()
    key = venv_key(requirements)
    venv = os.path.join(env.venvs, key)
    if os.path.exists(os.path.join(venv, ".complete")):
        say(f"{env.name}: requirements unchanged, reusing venv {key}")
    else:
        # Built where it will stay (venvs are not relocatable); an unfinished one is built again.
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        # No pip inside (ensurepip took half of a venv's build): the server's pip installs into it, and
        # nobody pip-installs into a venv that releases share; `python3 -m pip --python VENV` reads it.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        pip = [sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install", "--disable-pip-version-check", *pip_args, "-r", os.path.join(path, "requirements.txt")]
        if subprocess.run(pip).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise Failure(f"pip install -r requirements.txt failed for {os.path.basename(path)}")
        with open(os.path.join(venv, ".complete"), "wb") as f:
            f.write(requirements)
        say(f"{env.name}: built venv {key} in {time.monotonic() - started:.1f} s")
    link = os.path.join(path, f"{env.project}env")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.join("..", "..", "venvs", key), link)


DJANGO_STEPS = ("check", "collectstatic", "migrate")
FAILED_EXIT = 100  # release-django.py exits with this for a failed first step, +1 for the next


def step_prepare(env, path, steps, migrations):
    """The Django steps in one process; a failure names its step, as if each had run alone."""
    try:
        env.django(path, "prepare", PROG, env.name, env.project, env.tier == "production", steps, migrations, FAILED_EXIT)
    except Exited as e:
        index = e.code - FAILED_EXIT if FAILED_EXIT <= e.code < FAILED_EXIT + len(steps) else 0
        failure = Failure(f"manage.py {steps[index]} raised the error above (in {os.path.basename(path)})")
        failure.step = steps[index]
        raise failure from e


def step_verify(env, name):
    name = name or env.current()
    if not name:
        raise Failure(f"{env.name}: nothing is live yet")
    started = time.monotonic()
    problem = env.wait_served(name, "/")
    if problem:
        raise Failure(f"{env.name}: GET / through nginx on port {env.port} did not answer 200 from {name}: {problem}{server_error_hint(env, name, problem)}")
    say(f"{env.name}: {name} ({env.meta(name)['commit'][:8]}) answers 200 through nginx on port {env.port} ({time.monotonic() - started:.1f} s)")


def server_error_hint(env, name, problem):
    """A 500 from a new release is most often a schema it expects and the database lacks: say so."""
    if not problem.startswith("500"):
        return ""
    try:
        out = env.django(os.path.join(env.releases, name), "unapplied_migrations", capture=True)
    except Failure:
        return ""
    unapplied = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("unapplied-migration ")]
    if not unapplied:
        return ""
    return f"; the database lacks {len(unapplied)} unapplied migration(s) of this release: {', '.join(unapplied)} (did migrate run?)"


def step_rollback(env, to, allow_migrations):
    live, ready = env.current(), env.ready_releases()
    if to:
        matches = [n for n in ready if n == to or env.meta(n)["commit"].startswith(to.lower())]
        if not matches:
            raise Failure(f'{env.name}: no kept release matches "{to}"; kept: {", ".join(ready) or "none"}', 2)
        target = matches[-1]
    else:
        older = [n for n in ready if live and n < live]
        if not older:
            raise Failure(f"{env.name}: no release before {live or 'nothing'} to roll back to; kept: {', '.join(ready) or 'none'}", 2)
        target = older[-1]
    if target == live:
        say(f"{env.name}: {target} is already live")
        return
    out = env.django(os.path.join(env.releases, target), "missing_migrations", capture=True)
    missing = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("missing-migration ")]
    if missing and not allow_migrations:
        raise Failure(
            f"{env.name}: rollback to {target} stopped: the database has migrations that release lacks:\n  "
            + "\n  ".join(missing)
            + "\nMigrations are not reversed. If that release's code works with them (expand/contract), roll back with --allow-migrations.",
            3,
        )
    env.switch_to(target)


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    with open(CONFIG, encoding="utf-8") as f:
        env = Environment(json.load(f), argv[0])
    step, args = argv[1], argv[2:]
    if step == "new" and len(args) == 1:
        return step_new(env, args[0])
    steps = [a for a in args[1:] if a != "--migrations"] if step == "prepare" else [step]
    if step in ("venv", "prepare", *DJANGO_STEPS) and args and (step == "venv" or (steps and set(steps) <= set(DJANGO_STEPS))):
        path = env.release_path(args[0])
        try:
            if step == "venv":
                step_venv(env, path, args[1:])
            else:
                step_prepare(env, path, steps, "--migrations" in args[1:])
        except (Failure, OSError, subprocess.CalledProcessError) as e:
            failed = getattr(e, "step", step)
            env.discard(path, f"{failed} failed")
            raise Failure(f"{env.name}: {failed} failed: {e}", getattr(e, "code", 1)) from e
        return 0
    if step == "switch" and len(args) == 1:
        path = env.release_path(args[0])
        try:
            env.switch_to(os.path.basename(path))
        except Failure:
            env.discard(path, "switch failed")
            raise
        env.prune()
        return 0
    if step == "verify" and len(args) <= 1:
        return step_verify(env, os.path.basename(env.release_path(args[0])) if args else None)
    if step == "rollback":
        to = args[args.index("--to") + 1] if "--to" in args[:-1] else None
        return step_rollback(env, to, "--allow-migrations" in args)
    if step == "current" and not args:
        print(env.current() or "")
        return 0
    if step == "list" and not args:
        for name in env.all_releases():
            m = env.meta(name)
            state = "live" if name == env.current() else ("ready" if os.path.exists(os.path.join(env.releases, name, READY)) else "unfinished")
            print(f"{name}  {m['commit'][:8]}  {state}")
        return 0
    if step == "clean" and not args:
        env.clean()
        return 0
    raise Failure(f'"{" ".join(argv[1:])}": unknown step or wrong arguments; see {PROG} --help', 2)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]) or 0)
    except Failure as e:
        print(f"{PROG}: {e}", file=sys.stderr, flush=True)
        sys.exit(e.code if isinstance(e.code, int) and e.code > 0 else 1)
