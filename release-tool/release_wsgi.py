"""gunicorn's entry point: the project's own WSGI application, unmodified, with every answer saying
which release made it (X-Release, X-Commit). The deploy, not the project, marks its answers, so the
switch can prove that the new release serves and a traffic probe can see when it took over, for any
Django project.

Installed by django-deploy-testbed's recipe beside the release tool's library
(/usr/local/lib/<project>-release/release_wsgi.py). The unit runs
`gunicorn --pythonpath <that directory> release_wsgi:application` with RELEASE_WSGI set to the
project's application (`mysite.wsgi:application`), in the live release's directory of manage.py.
"""
import importlib
import json
import os


def _release():
    """The release this process runs: the nearest .release.json at or above its working directory."""
    here = os.getcwd()
    while True:
        path = os.path.join(here, ".release.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                meta = json.load(f)
            return meta.get("release", "unknown"), meta.get("commit", "unknown")
        if os.path.dirname(here) == here:
            return "unreleased", "unknown"
        here = os.path.dirname(here)


_RELEASE, _COMMIT = _release()
_HEADERS = [("X-Release", _RELEASE), ("X-Commit", _COMMIT)]
_module, _, _attribute = os.environ["RELEASE_WSGI"].partition(":")
_application = getattr(importlib.import_module(_module), _attribute or "application")


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, [*headers, *_HEADERS], exc_info)

    return _application(environ, start)
