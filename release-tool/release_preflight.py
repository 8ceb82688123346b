"""django-deploy-testbed's preflight of one environment: the project's settings loaded by Django
under that environment's variables, judged by release_settings.py (the judgement the release tool's
`check` makes on the server), with each problem pointed at the line that last set its setting.

Run by the harness in a container with no network and no secrets (placeholders of the right shape
stand in for them), in the project's manage.py directory, with the project's requirements in a venv:

    python release_preflight.py PROJECT_DIR TIER HOST,HOST HTTPS(0|1)

It prints one JSON line: {"facts", "problems"} or, when the settings do not load, {"error"}. The
settings are never read as text: a line is found by watching which line of the project's own
module-level code changed the setting's value while the settings were imported (sys.settrace).
"""
import json
import linecache
import os
import re
import sys
import traceback

WATCHED = ("DATABASES", "DEBUG", "ALLOWED_HOSTS", "STATIC_ROOT", "SECURE_SSL_REDIRECT")
STAR_IMPORT = re.compile(r"^\s*from\s+\S+\s+import\s+\*")


class Watcher:
    """Records (file, line, setting, value) each time a line of the project's module-level code
    changes a watched setting in its module's globals."""

    def __init__(self, root):
        self.root = root
        self.changes = []
        self.ours = {}

    def _ours(self, code):
        if code not in self.ours:
            self.ours[code] = code.co_name == "<module>" and in_project(code.co_filename, self.root)
        return self.ours[code]

    @staticmethod
    def _snapshot(scope):
        out = {}
        for name in WATCHED:
            if name in scope:
                try:
                    out[name] = repr(scope[name])
                except Exception:  # a value whose repr fails is still a value
                    out[name] = f"<{type(scope[name]).__name__}>"
        return out

    def trace(self, frame, event, arg):
        if event != "call" or not self._ours(frame.f_code):
            return None
        state = {"line": None, "seen": self._snapshot(frame.f_globals)}
        path = frame.f_code.co_filename

        def local(frame, event, arg):
            if event in ("line", "return", "exception"):
                now = self._snapshot(frame.f_globals)
                if state["line"] is not None:
                    for name in WATCHED:
                        if now.get(name) != state["seen"].get(name):
                            self.changes.append((path, state["line"], name, now.get(name)))
                state["seen"] = now
                state["line"] = frame.f_lineno if event == "line" else None
            return local

        return local

    def where(self, name, value):
        """The file and line that last gave `name` this value, a star import passed through to the
        module it imports from; None when no line of the project's own did."""
        candidates = [c for c in self.changes if c[2] == name and c[3] == value] or [c for c in self.changes if c[2] == name]
        for path, line, _, _ in reversed(candidates):
            if not STAR_IMPORT.match(linecache.getline(path, line)):
                return f"{os.path.relpath(path, self.root)}:{line}"
        return None


def in_project(filename, root):
    """A file of the project's own: a real path under its directory, not a library in a venv inside
    it, nor a frozen module ("<frozen os>", which a relative reading would put in the project)."""
    return os.path.isabs(filename) and os.path.realpath(filename).startswith(root) and "/site-packages/" not in filename


def missing_variable(error):
    """The environment variable a settings module asked for and did not get, if the error says so:
    os.environ[...] (KeyError), django-environ and python-decouple's words."""
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
        return error.args[0]
    text = str(error)
    for pattern in (r"Set the (\w+) environment variable", r"^(\w+) not found\. Declare it as envvar", r"environment variable '?(\w+)'? (?:is )?not set", r"\b([A-Z][A-Z0-9_]+) environment variable (?:is )?not (?:set|defined)"):
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    return None


def load_error(error, root):
    """The settings did not load: the error, and the last line of the project's own code it passed."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if in_project(f.filename, root)]
    last = frames[-1] if frames else None
    return {
        "type": type(error).__name__,
        "message": str(error),
        "where": f"{os.path.relpath(last.filename, root)}:{last.lineno}" if last else None,
        "variable": missing_variable(error),
    }


def main(argv):
    project_dir, tier, hosts, https = argv[1], argv[2], [h for h in argv[3].split(",") if h], argv[4] == "1"
    root = os.path.realpath(project_dir) + os.sep
    # As manage.py: the project's own modules import from its directory.
    sys.path.insert(0, os.getcwd())
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import release_settings

    watcher = Watcher(root)
    sys.settrace(watcher.trace)
    try:
        import django

        django.setup()
    except BaseException as e:  # whatever the settings raise, SystemExit included, is the answer
        sys.settrace(None)
        print(json.dumps({"error": load_error(e, root)}))
        return 0
    finally:
        sys.settrace(None)
    from django.conf import settings

    # As loaded, before Django's connection handler fills in the database's defaults.
    loaded = {name: repr(getattr(settings, name, None)) for name in WATCHED}
    facts, problems = release_settings.evaluate(project_dir, tier, hosts, https)
    for p in problems:
        if p["setting"]:
            p["where"] = watcher.where(p["setting"], loaded[p["setting"]])
    print(json.dumps({"facts": facts, "problems": problems}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
