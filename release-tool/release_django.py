"""What the release tool runs inside a release's Django, through `manage.py shell -v 0 -c`.

Installed by django-deploy-testbed's recipe beside the release tool, as
/usr/local/lib/<project>-release-django.py, and loaded by it with runpy. Each function runs in the
project's own Django process, with its settings and its environment file already read, so that one
Django start-up serves several steps: a start-up costs about 0.3 s of CPU here, and check,
collectstatic and migrate each took one.
"""
import os
import sys
import time
import traceback

from django.core.management import call_command
from django.core.management.base import CommandError


def _judgement():
    """release_settings.py, the judgement the harness's preflight makes too, from the tool's library
    directory (named in RELEASE_LIBRARY; beside this file where it is not, as in this repository)."""
    sys.path.append(os.environ.get("RELEASE_LIBRARY") or os.path.dirname(os.path.abspath(__file__)))
    import release_settings

    return release_settings


def check(project, production, migrations):
    """Django's checks and an import of the WSGI application, then the judgement of the settings as
    loaded (release_settings.py, which preflight runs too): the environment's Postgres, DEBUG by
    tier, ALLOWED_HOSTS for the host the switch asks with, STATIC_ROOT, and Django's system checks,
    with the deployment checks in production, whose warnings fail it (the HTTPS-only ones tolerated
    where nobody reaches it over HTTPS). `migrations` adds `makemigrations --check` (models changed
    without a migration) as an error."""
    call_command("check")
    module, _, attribute = os.environ.get("RELEASE_WSGI", f"{project}.wsgi:application").partition(":")
    application = getattr(__import__(module, fromlist=[attribute]), attribute, None)
    assert callable(application), f"{module}.{attribute} (the WSGI application gunicorn runs) is not callable"
    tier = "production" if production else os.environ.get("RELEASE_TIER") or "development"
    hosts = [h for h in [os.environ.get("RELEASE_HOST")] if h]
    _, problems = _judgement().evaluate(os.getcwd(), tier, hosts, os.environ.get("RELEASE_HTTPS", "0") == "1")
    for p in problems:
        print(f"{p['severity']}: {p['text']}", file=sys.stderr, flush=True)
    errors = [p["text"] for p in problems if p["severity"] == "error"]
    if errors:
        raise CommandError(f"the settings cannot serve a {tier} environment: " + "; ".join(errors))
    if migrations:
        call_command("makemigrations", check=True, dry_run=True)


def release_root():
    """The release this process prepares: the nearest .release.json at or above manage.py's directory."""
    here = os.getcwd()
    while not os.path.isfile(os.path.join(here, ".release.json")):
        if os.path.dirname(here) == here:
            raise CommandError(f"{os.getcwd()} is not inside a release (no .release.json above it)")
        here = os.path.dirname(here)
    return here


def collectstatic(project, production, migrations):
    """Into the project's own STATIC_ROOT, which must lie inside the release; `.static` at the
    release's root then links to it, and nginx serves /static/ from the live release's `.static`."""
    from django.conf import settings

    for name, served in (("STATIC_URL", os.environ.get("RELEASE_STATIC_URL", "/static/")), ("MEDIA_URL", os.environ.get("RELEASE_MEDIA_URL", "/media/"))):
        value = getattr(settings, name) or ""
        # Unset, MEDIA_URL is Django's "" (read as "/"): the project serves no uploads, nothing to match.
        if name == "MEDIA_URL" and value.strip("/") == "":
            continue
        # Django prefixes a relative URL with the script name ("static/" is served at /static/).
        if "://" not in value and "/" + value.strip("/") + "/" != served:
            raise CommandError(
                f"{name} is {value!r}, but nginx serves {served} (read from the settings when the servers were set up): "
                f"set {name.lower()} = {value!r} in deploy-testbed.toml and run the recipe again, or make it a literal in the settings"
            )
    if not settings.STATIC_ROOT:
        raise CommandError("STATIC_ROOT is not set: collectstatic has nowhere to write; set it inside the project, e.g. BASE_DIR / 'staticfiles'")
    root = release_root()
    static_root = os.path.realpath(settings.STATIC_ROOT)
    if os.path.commonpath([static_root, os.path.realpath(root)]) != os.path.realpath(root):
        raise CommandError(f"STATIC_ROOT is {settings.STATIC_ROOT}, outside the release {root}; each release needs its own: set it under BASE_DIR")
    call_command("collectstatic", interactive=False)
    write_static_manifest(root, static_root)
    link = os.path.join(root, ".static")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.path.relpath(static_root, root), link)
    link_media(settings, root)


STATIC_MANIFEST = ".release-static.json"


def write_static_manifest(root, static_root):
    """What collectstatic wrote, each file with its digest: what the release must serve, so that a file
    missing later (or changed) shows in the checklist, which reads this list, not the directory."""
    import hashlib
    import json

    files = {}
    for here, _, names in os.walk(static_root):
        for name in names:
            path = os.path.join(here, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, static_root)] = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(root, STATIC_MANIFEST), "w", encoding="utf-8") as f:
        json.dump(files, f, sort_keys=True)


def link_media(settings, root):
    """Uploads outlive releases: a MEDIA_ROOT inside the release becomes a link to the environment's
    shared uploads (where nginx serves them), unless the repository holds a directory there."""
    shared = os.environ.get("RELEASE_MEDIA")
    media_root = os.path.abspath(str(settings.MEDIA_ROOT or ""))
    if not shared or not settings.MEDIA_ROOT or os.path.commonpath([media_root, os.path.realpath(root)]) != os.path.realpath(root):
        return
    if os.path.islink(media_root) or not os.path.lexists(media_root):
        if os.path.lexists(media_root):
            os.unlink(media_root)
        os.makedirs(os.path.dirname(media_root), exist_ok=True)
        os.symlink(os.path.relpath(shared, os.path.dirname(media_root)), media_root)
    else:
        print(f"warning: MEDIA_ROOT {media_root} is a directory of the release: uploads saved there are lost at the next deploy", file=sys.stderr, flush=True)


def migrate(project, production, migrations):
    call_command("migrate", interactive=False)


# The Django steps of the recipe's table (steps.json, `runs: django`), by name.
STEPS = {"check": check, "collectstatic": collectstatic, "migrate": migrate}


def crash_point(name):
    """The release tool's crash points (release_state.py), inside Django: the specs kill a deploy here."""
    path = os.path.join(os.environ.get("RELEASE_ROOT", "/nonexistent"), ".release-crash-point")
    try:
        with open(path, encoding="utf-8") as f:
            if f.read().strip() != name:
                return
    except OSError:
        return
    # Only a process the specs then kill gets here, so no coverage data ever comes from it.
    with open(f"{path}.reached", "w", encoding="utf-8") as f:  # pragma: no cover
        f.write(f"{name} {os.getpid()} {os.getpgid(0)}\n")
    while True:  # pragma: no cover
        time.sleep(3600)


def prepare(prog, env_name, project, production, steps, migrations, failed_exit):
    """Runs `steps` in order; stops at the first that fails, with the exit code `failed_exit` + its
    index, so that the tool can say which one failed."""
    for index, step in enumerate(steps):
        crash_point(f"{step}:start")
        started = time.monotonic()
        try:
            if step not in STEPS:
                raise ValueError(f"unknown step {step!r}")
            STEPS[step](project, production, migrations)
        except CommandError as e:
            # As manage.py reports it: the command's own words, no traceback of Django's internals.
            print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
            sys.exit(failed_exit + index)
        except SystemExit as e:
            # `makemigrations --check` exits 1 after saying what changed.
            if e.code not in (None, 0):
                sys.exit(failed_exit + index)
        except Exception:
            traceback.print_exc()
            sys.stderr.flush()
            sys.exit(failed_exit + index)
        sys.stdout.flush()
        print(f"{prog}: {env_name}: {step} done in {time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)


def unapplied_migrations():
    """Migrations of this release the database lacks, one `unapplied-migration app.name` line each."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print(f"unapplied-migration {migration.app_label}.{migration.name}")


def missing_migrations():
    """Migrations applied to the database that this release does not have (a rollback past them)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    for app, name in sorted(set(loader.applied_migrations) - set(loader.disk_migrations)):
        print(f"missing-migration {app}.{name}")


def facts():
    """What this release's Django connects to and would change, read-only: one JSON line for
    `<project>-release ENV facts` (the specs and `npm run verify` read it)."""
    import json

    from django.conf import settings
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_user" if connection.vendor == "postgresql" else "SELECT 1, 1")
        database, user = cursor.fetchone()
    executor = MigrationExecutor(connection)
    unapplied = [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]
    print(json.dumps({
        "vendor": connection.vendor,
        "database": database,
        "user": user,
        "debug": bool(settings.DEBUG),
        "unapplied": unapplied,
        "static_root": str(settings.STATIC_ROOT or ""),
        "settings": os.environ.get("DJANGO_SETTINGS_MODULE", ""),
    }))
