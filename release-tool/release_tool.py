#!/usr/bin/python3
"""Releases of one Django project on this server: made, prepared, switched, rolled back.

Installed by django-deploy-testbed's recipe as /usr/local/bin/<project>-release, with its settings
in /etc/<project>-release.json. The recipe and the generated GitLab pipeline both deploy with it, as
the deploy user, one visible command per step: new, venv, prepare (the Django steps check,
collectstatic and migrate in one Django process), switch, verify; and rollback, list, current, clean.
`<project>-release ENV --help` lists them with their arguments.

The deploy's steps and their order are the recipe's table (steps.json), which the config
carries as `steps`. A step that fails removes the release it was preparing; the live release is
never touched: only `switch` and `rollback` change it, by one rename.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

# Its library, in the directory named after this file: what an environment's releases are
# (RELEASE_TOOL_LIB overrides, for tests).
sys.path.insert(0, os.environ.get("RELEASE_TOOL_LIB", f"/usr/local/lib/{os.path.basename(__file__)}"))
from release_common import META, PROG, READY, Exited, Failure, say  # noqa: E402
from release_environment import Environment  # noqa: E402
import release_state as state  # noqa: E402

CONFIG = os.environ.get("RELEASE_TOOL_CONFIG", f"/etc/{PROG}.json")


def venv_key(requirements):
    digest = hashlib.sha256(f"{sys.version_info[0]}.{sys.version_info[1]}\0".encode() + requirements).hexdigest()
    return f"py{sys.version_info[0]}{sys.version_info[1]}-{digest[:16]}"


def requirements_of(env, path):
    """What pip installs for a release, and the bytes that identify it: the project's requirements
    file (read in place, so its `-r base.txt` lines resolve beside it), or pyproject.toml's
    [project] dependencies; gunicorn added when they lack it, as the seed installs it."""
    source = os.path.join(path, env.requirements)
    if not os.path.isfile(source):
        raise Failure(f"{os.path.basename(path)}: has no {env.requirements} (the project's requirements, from the recipe's config)")
    if source.endswith(".toml"):
        import tomllib

        with open(source, "rb") as f:
            lines = list(tomllib.load(f).get("project", {}).get("dependencies", []))
        args = list(lines)
    else:
        lines = open(source, encoding="utf-8").read().splitlines()
        args = ["-r", source]
    names = {re.split(r"[\s\[<>=!~;@]", line.strip(), maxsplit=1)[0].lower() for line in lines if line.strip() and not line.strip().startswith(("#", "-"))}
    if "gunicorn" not in names:
        lines, args = [*lines, "gunicorn"], [*args, "gunicorn"]
    return "".join(f"{line}\n" for line in lines).encode(), args


# --- the steps: each takes the environment and the parsed arguments -----------------------------


def step_new(env, args):
    commit = args.commit
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise Failure(f'commit "{commit}": expected a hex commit id', 2)
    # The environment is this deploy's from here until its verify (or its failure): another waits.
    with env.taken("a deploy"):
        base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + commit[:8]
        name, n = base, 1
        while os.path.exists(os.path.join(env.releases, name)):
            name, n = f"{base}.{n}", n + 1
        path = os.path.join(env.releases, name)
        os.mkdir(path, 0o755)
        with open(os.path.join(path, META), "w", encoding="utf-8") as f:
            json.dump({"release": name, "commit": commit, "environment": env.name, "created": time.time()}, f)
        # Uploads are shared by every release (the upload leaves the link alone).
        env.link_shared(path)
        state.write_holder(env.root, name)
    state.crash_point(env.root, "new:after-release")
    print(path)


def working_on(env, path, step_name):
    """Refuses a release that another deploy's hold has replaced; marks the release as worked on by
    this process (freed when it dies, however it dies); stops at the step's crash point if asked."""
    name = os.path.basename(path)
    holder = state.read_holder(env.root)
    if holder and holder.get("release") != name and not env.abandoned(holder):
        raise Failure(f"{env.name}: {name} is not the release being deployed ({holder['release']} holds the environment); start again with `new`", 5)
    active = state.hold_active(path)
    state.crash_point(env.root, f"{step_name}:start")
    return active


def done_with(path, active):
    """The step's work on a release ends: its last activity is now (the release may be gone: discarded)."""
    try:
        os.utime(os.path.join(path, state.ACTIVE))
    except OSError:
        pass
    os.close(active)


def preparing(step):
    """A step on a release being prepared: a failure removes that release (never the live one)."""

    def run(env, args):
        path = env.release_path(args.release)
        active = working_on(env, path, args.step)
        try:
            step(env, path, args)
        except (Failure, OSError, subprocess.CalledProcessError) as e:
            failed = getattr(e, "step", args.step)
            env.discard(path, f"{failed} failed")
            raise Failure(f"{env.name}: {failed} failed: {e}", getattr(e, "code", 1)) from e
        finally:
            done_with(path, active)

    return run


@preparing
def step_venv(env, path, args):
    requirements, wanted = requirements_of(env, path)
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
        pip = [sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install", "--disable-pip-version-check", *args.pip_args, *wanted]
        state.crash_point(env.root, "venv:built")
        if subprocess.run(pip).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise Failure(f"pip install -r {env.requirements} failed for {os.path.basename(path)}")
        with open(os.path.join(venv, ".complete"), "wb") as f:
            f.write(requirements)
        say(f"{env.name}: built venv {key} in {time.monotonic() - started:.1f} s")
    link = os.path.join(path, f"{env.project}env")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.join("..", "..", "venvs", key), link)
    env.mark_done(path, ["venv"])


FAILED_EXIT = 100  # release_django.py exits with this for a failed first step, +1 for the next


def run_django_steps(env, path, steps, migrations):
    """The Django steps in one process; a failure names its step, as if each had run alone."""
    try:
        env.django(path, "prepare", PROG, env.name, env.project, env.tier == "production", steps, migrations, FAILED_EXIT)
    except Exited as e:
        index = e.code - FAILED_EXIT if FAILED_EXIT <= e.code < FAILED_EXIT + len(steps) else 0
        failure = Failure(f"manage.py {steps[index]} raised the error above (in {os.path.basename(path)})")
        failure.step = steps[index]
        raise failure from e


@preparing
def step_prepare(env, path, args):
    run_django_steps(env, path, args.steps, args.migrations)
    env.mark_done(path, args.steps)


@preparing
def step_django(env, path, args):
    """One Django step alone (check, collectstatic or migrate), for a person at the server."""
    run_django_steps(env, path, [args.step], False)
    env.mark_done(path, [args.step])


def step_switch(env, args):
    path = env.release_path(args.release)
    name = os.path.basename(path)
    active = working_on(env, path, "switch")
    try:
        missing = env.missing_steps(name)
        if missing:
            raise Failure(f"{env.name}: {name} is not fully prepared: {', '.join(missing)} did not complete; run them first (or deploy it again from `new`)", 2)
        with state.Locked(env.root):
            previous = env.current()
            try:
                env.switch_to(name)
            except Failure as e:
                ahead = database_ahead(env, previous) if previous else []
                if not ahead:
                    env.discard(path, "switch failed")
                    raise
                state.release_holder(env.root, name)
                raise Failure(
                    f"{e}\n{env.name}: the database is ahead of {previous}: it has {', '.join(ahead)} from {name}, which is kept (marked bad) "
                    "for the schema it made; fix forward with a new release, or roll back to it with --to once it serves"
                ) from e
            env.prune()
    finally:
        done_with(path, active)


def database_ahead(env, release):
    """Migrations in the database that `release` lacks (a failed switch after migrate)."""
    try:
        out = env.django(os.path.join(env.releases, release), "missing_migrations", capture=True)
    except Failure:
        return []
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("missing-migration ")]


def step_verify(env, args):
    name = os.path.basename(env.release_path(args.release)) if args.release else env.current()
    if not name:
        raise Failure(f"{env.name}: nothing is live yet")
    state.crash_point(env.root, "verify:start")
    started = time.monotonic()
    try:
        problem = env.wait_served(name, env.health)
        if problem:
            raise Failure(f"{env.name}: GET {env.health} through nginx on port {env.port} did not answer below 500 from {name}: {problem}{env.server_error_hint(name, problem)}")
        say(f"{env.name}: {name} ({env.meta(name)['commit'][:8]}) serves {env.health} through nginx on port {env.port} ({time.monotonic() - started:.1f} s)")
    finally:
        # The deploy is over, passed or not: the environment is free for the next one.
        state.release_holder(env.root, name)


def step_rollback(env, args):
    if args.to is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,80}", args.to):
        raise Failure(f"--to {args.to!r}: not a release or a commit (letters, digits, '.', '_' and '-'); see them with: {PROG} {env.name} list", 2)
    # Never in the middle of a deploy of the environment: it waits, as another deploy would.
    with env.taken("a rollback"):
        live, ready = env.current(), env.ready_releases()
        if args.to:
            matches = [n for n in ready if n == args.to or env.meta(n)["commit"].startswith(args.to.lower())]
            if not matches:
                raise Failure(f'{env.name}: no kept release matches "{args.to}"; kept: {", ".join(ready) or "none"}', 2)
            target = matches[-1]
        else:
            target = env.rollback_target()
            if not target:
                raise Failure(f"{env.name}: no release before {live or 'nothing'} to roll back to; kept: {', '.join(ready) or 'none'}", 2)
        if target == live:
            say(f"{env.name}: {target} is already live")
            return
        out = env.django(os.path.join(env.releases, target), "missing_migrations", capture=True)
        missing = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("missing-migration ")]
        if missing and not args.allow_migrations:
            raise Failure(
                f"{env.name}: rollback to {target} stopped: the database has migrations that release lacks:\n  "
                + "\n  ".join(missing)
                + "\nMigrations are not reversed. If that release's code works with them (expand/contract), roll back with --allow-migrations.",
                3,
            )
        env.switch_to(target)
        if live:
            state.append_history(env.root, "rolled-back-from", release=live, to=target)


def step_facts(env, args):
    """Read-only facts of the environment, one JSON object: the live release and whether it is
    complete, and what its Django connects to (or why it could not say). Changes nothing."""
    import release_checklist

    print(json.dumps(release_checklist.live_facts(env)))


def step_checklist(env, args):
    """The checklist (checklist.json, in the config), evaluated read-only; exit 1 if a check failed."""
    import release_checklist

    report = release_checklist.until_passed(env, args.config, args.retry_timeout)
    print(json.dumps(report) if args.json else release_checklist.junit(report) if args.junit else release_checklist.table(report), end="" if args.junit else "\n" if args.json else "")
    return 1 if any(r["status"] == "failed" for r in report["results"]) else 0


def step_list(env, args):
    for name in env.all_releases():
        m = env.meta(name)
        bad = env.bad_releases()
        status = "live" if name == env.current() else ("bad" if name in bad else "ready") if os.path.exists(os.path.join(env.releases, name, READY)) else ("bad" if name in bad else "unfinished")
        print(f"{name}  {m['commit'][:8]}  {status}")


# --- the command line ---------------------------------------------------------------------------

RELEASE = ("release", {"help": "a release's name or path under the environment's releases"})

# The tool's own commands, each a function and its arguments. The deploy's steps are those of the
# config's table: a `tool` step must be here; a `django` step is a command of its own (step_django)
# and a choice of `prepare`.
COMMANDS = {
    "new": (step_new, "an empty release for COMMIT; prints its path", [("commit", {})]),
    "venv": (step_venv, "link RELEASE to the venv for its requirements.txt (built once)", [RELEASE, ("pip_args", {"nargs": argparse.REMAINDER, "help": "pip install's arguments"})]),
    "prepare": (step_prepare, "these Django steps, in order, in one Django process", [RELEASE, ("steps", {"nargs": "+"}), ("--migrations", {"action": "store_true", "help": "check adds makemigrations --check"})]),
    "switch": (step_switch, "make RELEASE live and restart gunicorn; switch back if it does not serve", [RELEASE]),
    "verify": (step_verify, "GET / through nginx answers 200 from RELEASE (default: the live one)", [("release", {"nargs": "?"})]),
    "rollback": (step_rollback, "back to the previous release, or to --to ID", [("--to", {"metavar": "ID"}), ("--allow-migrations", {"action": "store_true"})]),
    "facts": (step_facts, "read-only facts as JSON: the live release, and its Django's database, DEBUG and unapplied migrations", []),
    "checklist": (
        step_checklist,
        "read-only: the deployed environment's checks, as a table, --json or --junit; exit 1 if one failed",
        [("--json", {"action": "store_true"}), ("--junit", {"action": "store_true"}), ("--retry-timeout", {"type": float, "default": 0, "metavar": "SECONDS"})],
    ),
    "current": (lambda env, args: print(env.current() or ""), "the live release", []),
    "list": (step_list, "every release and its state", []),
    "clean": (lambda env, args: env.clean(), "remove releases that never became ready (and that no step works on)", []),
}


class Usage(Failure):
    """Arguments argparse refuses: one message shape and exit code 2 for every such refusal."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message, 2)


def deploy_steps(config):
    """The config's step table, checked against what this tool can run."""
    steps = config.get("steps")
    if not steps:
        raise Failure(f"{CONFIG}: has no `steps` table; the recipe writes it: run the recipe again", 2)
    unknown = [s["step"] for s in steps if s["runs"] == "tool" and s["step"] not in COMMANDS]
    if unknown:
        raise Failure(f"{CONFIG}: steps {', '.join(unknown)} have no command in this tool; install the tool and its config from one recipe", 2)
    return steps


def parser_for(config):
    django = [s["step"] for s in deploy_steps(config) if s["runs"] == "django"]
    parser = Parser(prog=PROG, description="Releases of one Django project on this server.")
    parser.add_argument("env", help="the environment")
    sub = parser.add_subparsers(dest="step", required=True, parser_class=Parser)
    for name, (function, text, arguments) in COMMANDS.items():
        command = sub.add_parser(name, help=text)
        for flag, options in arguments:
            command.add_argument(flag, **({**options, "choices": django} if flag == "steps" else options))
        command.set_defaults(run=function)
    for name in django:
        sub.add_parser(name, help=f"manage.py {name} alone, on RELEASE").add_argument(*RELEASE[:1], **RELEASE[1])
        sub.choices[name].set_defaults(run=step_django)
    return parser


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    with open(CONFIG, encoding="utf-8") as f:
        config = json.load(f)
    try:
        args = parser_for(config).parse_args(argv)
    except Usage as e:
        raise Failure(f'"{" ".join(argv[1:])}": unknown step or wrong arguments ({e}); see {PROG} {argv[0]} --help', 2) from None
    env = Environment(config, args.env)
    args.config = {**config, "tool": PROG}
    state.die_with_connection()
    return args.run(env, args) or 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]) or 0)
    except Failure as e:
        print(f"{PROG}: {e}", file=sys.stderr, flush=True)
        sys.exit(e.code if isinstance(e.code, int) and e.code > 0 else 1)
