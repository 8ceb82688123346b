"""An environment's releases on this server: their paths, the live link, Django inside a release,
and the switch. The release tool's library (release_tool.py is its command line), installed by
django-deploy-testbed's recipe as /usr/local/lib/<project>-release/release_environment.py.
"""
import json
import os
import shutil
import subprocess
import time

import release_state as state
from release_common import META, READY, Exited, Failure, read_env_file, say
from release_takeover import Takeover


class Environment(Takeover):
    """An environment's releases, its live link and its Django; the hold and the recovery from a
    killed deploy are Takeover's (release_takeover.py)."""

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
        self.django_steps = config["django"]  # release_django.py: what runs inside Django
        # How long switch and verify wait for the release to answer through nginx.
        self.serve_seconds = float(config.get("serveSeconds", 30))
        # The project as the recipe detected it: where manage.py is inside a release, its
        # requirements, the path that says it serves, and a Host its ALLOWED_HOSTS accepts.
        project = config.get("projectFacts", {})
        self.app_dir = project.get("appDir", "")
        self.requirements = project.get("requirements", "requirements.txt")
        self.health = project.get("health", "/")
        self.host = project.get("host", "localhost")
        self.static_url = project.get("staticUrl", "/static/")
        self.media_url = project.get("mediaUrl", "/media/")
        # "production" runs the deployment checks; an older config without tiers means none.
        self.tier = e.get("tier", "")
        self.root = os.path.dirname(self.live)
        # The steps a release must have done before it may go live: those before `switch` in the table.
        names = [s["step"] for s in config.get("steps", [])]
        self.before_switch = names[: names.index("switch")] if "switch" in names else []
        # How long a deploy or a rollback waits for another deploy of the environment, and how long a
        # deploy with no step running may stay silent before it counts as abandoned (a killed job).
        self.lock_wait = float(config.get("lockWaitSeconds", 900))
        self.grace = float(config.get("lockGraceSeconds", 20))

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

    def mark_done(self, path, steps):
        """Records steps a release has completed in its .release.json (written whole, then renamed)."""
        meta_path = os.path.join(path, META)
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        meta["done"] = [*meta.get("done", []), *[s for s in steps if s not in meta.get("done", [])]]
        tmp = f"{meta_path}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(meta, f)
        os.replace(tmp, meta_path)

    def missing_steps(self, name):
        done = self.meta(name).get("done", [])
        return [s for s in self.before_switch if s not in done]

    def discard(self, path, why):
        name = os.path.basename(path)
        state.release_holder(self.root, name)
        if name == self.current():
            return
        shutil.rmtree(path, ignore_errors=True)
        say(f"{self.name}: removed the half-made release {name} ({why}); {self.current() or 'nothing'} is live")

    def bad_releases(self):
        return {e["release"] for e in state.read_history(self.root) if e["event"] in ("failed", "rolled-back-from")}

    def rollback_target(self):
        """What `rollback` goes back to: the release live before the live one, by the history (the
        bad and the rolled back skipped); by name where there is no history yet (an older server)."""
        live, ready = self.current(), self.ready_releases()
        history = state.read_history(self.root)
        if any(e["event"] == "live" and e["release"] == live for e in history):
            return state.previous_live(history, live, exclude=set(self.all_releases()) - set(ready))
        # A live release the history does not know (linked by hand, or before the history): by name.
        older = [n for n in ready if live and n < live]
        return older[-1] if older else None

    def prune(self):
        """Keeps the newest `keep` good releases, the live one and the rollback target (a release that
        failed or was rolled back from goes first), and only the venvs they use."""
        ready, live, bad = self.ready_releases(), self.current(), self.bad_releases()
        good = [n for n in ready if n not in bad]
        kept = set(good[-self.keep:]) | {n for n in (live, self.rollback_target()) if n}
        for name in ready:
            if name not in kept:
                shutil.rmtree(os.path.join(self.releases, name), ignore_errors=True)
        used = {os.path.basename(os.path.realpath(os.path.join(self.releases, n, f"{self.project}env"))) for n in self.all_releases()}
        for venv in os.listdir(self.venvs):
            if venv not in used:
                shutil.rmtree(os.path.join(self.venvs, venv), ignore_errors=True)

    # --- running Django -------------------------------------------------------------------------
    def app(self, path):
        """Where manage.py is in a release."""
        return os.path.join(path, self.app_dir) if self.app_dir else path

    def link_shared(self, path):
        """Uploads outlive releases: `media` beside manage.py links to the environment's shared
        directory (a project's MEDIA_ROOT = BASE_DIR / "media" lands there)."""
        app = self.app(path)
        os.makedirs(app, exist_ok=True)
        os.symlink(os.path.relpath(self.media, app), os.path.join(app, "media"))

    def manage(self, path, *args, capture=False):
        python = os.path.join(path, f"{self.project}env", "bin", "python")
        if not os.path.exists(python):
            raise Failure(
                f"{os.path.basename(path)}: has no venv: {os.path.dirname(os.path.dirname(python))} is missing. The venv step makes it; "
                "if that step ran, something removed it since (an rsync --delete into the release, say)"
            )
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8"}
        # What nginx serves where, for release_django.py to check against the project's own settings.
        env.update(RELEASE_STATIC_URL=self.static_url, RELEASE_MEDIA_URL=self.media_url, RELEASE_MEDIA=self.media, RELEASE_ROOT=self.root, RELEASE_TIER=self.tier or "", RELEASE_HOST=self.host)
        # Where release_django.py finds the judgement of the settings (release_settings.py): this library.
        env.update(RELEASE_LIBRARY=os.path.dirname(os.path.abspath(__file__)))
        env.update(read_env_file(self.env_file))
        run = subprocess.run([python, "manage.py", *args], cwd=self.app(path), env=env, text=True, stdout=subprocess.PIPE if capture else None)
        if run.returncode != 0:
            raise Exited(f"manage.py {' '.join(args)} exited {run.returncode} in {os.path.basename(path)}", run.returncode)
        return run.stdout

    def django(self, path, function, *args, capture=False):
        """Calls one function of release_django.py inside the release's Django (one start-up)."""
        code = f"import runpy\nrunpy.run_path({self.django_steps!r})[{function!r}](*{list(args)!r})"
        # -v 0: Django 5.2's shell otherwise prints what it imported; only our own lines count.
        return self.manage(path, "shell", "-v", "0", "-c", code, capture=capture)

    def get(self, path, timeout=5):
        """One GET through nginx, as people reach the site: a Host the project allows, and no
        redirect followed (a project that redirects to HTTPS or a login page still serves)."""
        # Imported here: only switch and verify ask nginx, and http (with email) is a good part of
        # the tool's start-up, which every step pays.
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers={"Host": self.host})
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("X-Release", "")
        finally:
            connection.close()

    def wait_served(self, name, path, seconds=None):
        """Until `path` through nginx answers below 500 from release `name` (gunicorn's wrapper
        names the release in X-Release); the last answer otherwise."""
        end, last = time.monotonic() + (self.serve_seconds if seconds is None else seconds), "no answer"
        while time.monotonic() < end:
            try:
                status, release = self.get(path)
                last = f"{status} from {release or 'no X-Release header'}"
                if status < 500 and release == name:
                    return None
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        return last

    def server_error_hint(self, name, problem):
        """A 500 from a new release is most often a schema it expects and the database lacks: say so."""
        if not problem.startswith("500"):
            return ""
        try:
            out = self.django(os.path.join(self.releases, name), "unapplied_migrations", capture=True)
        except Failure:
            return ""
        unapplied = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("unapplied-migration ")]
        if not unapplied:
            return ""
        return f"; the database lacks {len(unapplied)} unapplied migration(s) of this release: {', '.join(unapplied)} (did migrate run before the switch?)"

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

    def switch_to(self, name, event="live"):
        """Makes `name` live and restarts gunicorn into it; it counts as ready (a rollback target)
        only once it has served. Otherwise the previous release goes back, restarted, or, on a first
        deploy, nothing stays live."""
        previous = self.current()
        self.point_live_at(name)
        state.crash_point(self.root, "switch:after-link")
        started = time.monotonic()
        try:
            self.restart()
            state.crash_point(self.root, "switch:after-restart")
            problem = self.wait_served(name, self.health)
        except Failure as e:
            problem = str(e)
        if problem is None:
            open(os.path.join(self.releases, name, READY), "w").close()
            state.append_history(self.root, "live", release=name, previous=previous)
            say(f"{self.name}: live {previous or '(none)'} -> {name}, serving after {time.monotonic() - started:.1f} s")
            return previous
        # Asked while the failed release is live, before switching back: its own schema is the question.
        hint = self.server_error_hint(name, problem)
        state.append_history(self.root, "failed", release=name, problem=problem)
        if previous:
            self.point_live_at(previous)
        else:
            # Nothing was live: nothing stays live. The unit's condition (a venv behind the live
            # path) then keeps gunicorn from starting into a release that does not serve.
            os.unlink(self.live)
        self.restart()
        back = f"switched back to {previous}" if previous else f"nothing is live in {self.name} (this was its first deploy)"
        raise Failure(f"{self.name}: {name} did not serve after the switch ({problem}){hint}; {back}")
