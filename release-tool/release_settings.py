"""What a Django project's settings are, as Django evaluates them, and what a deploy makes of them.

One judgement for two callers: the harness's preflight (release_preflight.py, in a container with
no network and no secrets, before any server changes) and the release tool's `check` on the server
(release_django.py), so that both refuse a project for the same reasons, in the same words. Nothing
here reads a settings file as text: every fact is what the loaded settings hold, what Django's own
system checks say, and what its migration autodetector finds.

The policy, per tier of environment:
- a database other than the environment's Postgres: an error everywhere;
- DEBUG on: an error in production, a warning in staging, fine in development;
- ALLOWED_HOSTS without the hosts the deploy is reached by: an error everywhere (Django answers 400);
- no STATIC_ROOT: an error everywhere (collectstatic has nowhere to write);
- Django's system checks: errors everywhere; warnings are errors in production, which runs the
  deployment checks too (those about HTTPS are tolerated where nobody reaches it over HTTPS);
- an app of the project with models and no migrations: an error (its tables are never made);
  model changes without a migration in an app that has some: a warning.
"""
import os

# Deployment checks about HTTPS (HSTS, the redirect, secure cookies, HSTS preload): where people do
# not reach the environment over HTTPS (these servers' plain HTTP), they cannot be met, so they are
# tolerated; every other deployment warning still fails production.
HTTPS_ONLY_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016", "security.W021"]
# Said by a rule of our own below, with what to change.
COVERED_CHECKS = {"security.W018", "security.W020"}
ERROR_LEVEL, WARNING_LEVEL = 40, 30
CONFIG = "deploy-testbed.toml"


def facts():
    """The settings the deploy depends on, as the project's Django holds them."""
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES.get("default", {}) if isinstance(settings.DATABASES, dict) else {}
    try:
        vendor = connections["default"].vendor
    except Exception as e:  # an ENGINE whose module or driver does not import
        vendor = f"unloadable ({type(e).__name__}: {e})"
    return {
        "database": {"vendor": vendor, "engine": str(db.get("ENGINE", "")), "name": str(db.get("NAME", "")), "user": str(db.get("USER", "")), "host": str(db.get("HOST", ""))},
        "debug": bool(settings.DEBUG),
        "allowed_hosts": [str(h) for h in settings.ALLOWED_HOSTS],
        "static_root": str(settings.STATIC_ROOT or ""),
        "static_url": str(settings.STATIC_URL or ""),
        "media_root": str(settings.MEDIA_ROOT or ""),
        "media_url": str(settings.MEDIA_URL or ""),
        "secure_ssl_redirect": bool(getattr(settings, "SECURE_SSL_REDIRECT", False)),
    }


def system_checks(production, https):
    """Django's system checks as the server runs them: the deployment checks in production, those
    the project silences left out, and the HTTPS-only ones too where nobody reaches it over HTTPS."""
    from django.conf import settings
    from django.core import checks

    silenced = set(settings.SILENCED_SYSTEM_CHECKS) | (set() if https else set(HTTPS_ONLY_CHECKS)) | COVERED_CHECKS
    messages = checks.run_checks(include_deployment_checks=production)
    return [
        {"id": m.id or "", "level": m.level, "text": str(m.msg), "hint": str(m.hint or ""), "obj": str(m.obj) if m.obj is not None else ""}
        for m in messages
        if m.level >= WARNING_LEVEL and m.id not in silenced and not m.is_silenced()
    ]


def migration_changes(project_dir):
    """The project's own apps whose models differ from their migrations (what makemigrations --check
    --dry-run would write), read from the migration files alone: no database is asked."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    root = os.path.realpath(project_dir) + os.sep
    own = {a.label for a in apps.get_app_configs() if os.path.realpath(a.path).startswith(root)}
    if not own:
        return []
    loader = MigrationLoader(None, ignore_no_migrations=True)
    questioner = NonInteractiveMigrationQuestioner(specified_apps=own, dry_run=True)
    changes = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps), questioner).changes(graph=loader.graph, trim_to_apps=own, convert_apps=own)
    has_migrations = {app for app, _ in loader.disk_migrations}
    return [
        {"app": label, "unmigrated": label not in has_migrations, "operations": [op.describe() for m in migrations for op in m.operations]}
        for label, migrations in sorted(changes.items())
        if label in own
    ]


def allowed(host, allowed_hosts, debug):
    """Whether Django accepts `host`, as request.get_host() decides (with DEBUG's localhost defaults)."""
    from django.http.request import validate_host

    hosts = list(allowed_hosts)
    if debug and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, hosts)


def judge(f, checks, migrations, tier, hosts, https):
    """The problems of one environment's settings, each {severity, setting, text}: `setting` names
    what the text is about, so that a caller can point at the line that last set it."""
    problems = []

    def add(severity, setting, text):
        problems.append({"severity": severity, "setting": setting, "text": text})

    db = f["database"]
    if db["vendor"] != "postgresql":
        add("error", "DATABASES", f"DATABASES['default'] is {db['engine'] or 'unset'} ({db['vendor']}), not the environment's Postgres database: read DATABASE_URL (dj-database-url), or map the database values onto the project's own variables in {CONFIG}")
    if f["debug"] and tier in ("production", "staging"):
        add("error" if tier == "production" else "warning", "DEBUG", f"DEBUG is on, whatever DJANGO_DEBUG says, in a {tier} environment: it shows tracebacks and settings to anyone (check --deploy: security.W018); read it from a variable mapped to {{debug}} in {CONFIG}")
    refused = [h for h in hosts if not allowed(h, f["allowed_hosts"], f["debug"])]
    if refused:
        add("error", "ALLOWED_HOSTS", f"ALLOWED_HOSTS is {f['allowed_hosts']!r}, which refuses {', '.join(refused)}, the host(s) the deploy is reached by, so Django answers 400: read it from a variable mapped to {{allowed_hosts}} in {CONFIG}")
    if not f["static_root"]:
        add("error", "STATIC_ROOT", "STATIC_ROOT is not set, so collectstatic has nowhere to write: set it inside the project, e.g. BASE_DIR / 'staticfiles'")
    if f["secure_ssl_redirect"] and not https:
        add("warning", "SECURE_SSL_REDIRECT", f"SECURE_SSL_REDIRECT is on, but people reach this environment over plain HTTP, so every page redirects to https: turn it on from a variable mapped to {{https}} in {CONFIG}")
    for c in checks:
        severity = "error" if c["level"] >= ERROR_LEVEL or tier == "production" else "warning"
        subject = f"{c['obj']}: " if c["obj"] else ""
        add(severity, "", f"Django's check {c['id']}: {subject}{c['text']}" + (f" ({c['hint']})" if c["hint"] else ""))
    for m in migrations:
        if m["unmigrated"]:
            add("error", "", f"app {m['app']} has models but no migrations, so its tables are never made and its pages answer 500 ({'; '.join(m['operations'])}): run `manage.py makemigrations {m['app']}` and commit the migrations")
        else:
            add("warning", "", f"app {m['app']} has model changes without a migration ({'; '.join(m['operations'])}): run `manage.py makemigrations {m['app']}` and commit it")
    return problems


def evaluate(project_dir, tier, hosts, https):
    """Facts and problems of the settings this process has loaded."""
    f = facts()
    return f, judge(f, system_checks(tier == "production", https), migration_changes(project_dir), tier, hosts, https)
