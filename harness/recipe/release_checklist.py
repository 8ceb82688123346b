"""What a deployed environment must show, checked on the server, read-only: the release tool's
`checklist` command. The checks and their sentences are the recipe's table (checklist.json), which
the tool's config carries; this module evaluates the `server` ones from what the server says (unit
states, the socket's owner and mode, the environment file, sudo, the other environments' trees, the
live release's own Django), and the `http` ones through nginx on 127.0.0.1, as the pipeline's
verify job runs it. `npm run verify` asks for the server ones (--server-only) and checks HTTP from
outside itself, with the same ids and sentences.

Installed by django-deploy-testbed's recipe beside the release tool's library. Nothing here writes.
"""
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import stat
import subprocess
import time
from xml.sax.saxutils import escape, quoteattr

from release_common import READY, Failure

STATIC_SAMPLE = 3


def _run(*args):
    r = subprocess.run(list(args), text=True, capture_output=True)
    return r.returncode, r.stdout.strip(), r.stderr.strip()


def _stat(path):
    try:
        st = os.stat(path)
    except OSError as e:
        return {"exists": False, "error": e.strerror}
    owner = pwd.getpwuid(st.st_uid).pw_name if st.st_uid in {p.pw_uid for p in pwd.getpwall()} else str(st.st_uid)
    group = grp.getgrgid(st.st_gid).gr_name if st.st_gid in {g.gr_gid for g in grp.getgrall()} else str(st.st_gid)
    return {"exists": True, "owner": owner, "group": group, "mode": format(stat.S_IMODE(st.st_mode), "o"), "socket": stat.S_ISSOCK(st.st_mode)}


def _static_files(release):
    """Up to three files the release collected (its manifest, written by collectstatic), the project's
    own before Django's admin, with their digests: a file missing from disk since is still asked for."""
    try:
        with open(os.path.join(release, ".release-static.json"), encoding="utf-8") as f:
            files = json.load(f)
    except (OSError, ValueError):
        return []
    order = sorted(files, key=lambda p: (p.startswith(("admin/", "rest_framework/")), p))
    return [{"path": p, "sha256": files[p]} for p in order[:STATIC_SAMPLE]]


def live_facts(env):
    """The live release, whether it is complete, and what its Django connects to (or why it could
    not say): the tool's `facts` command prints this, and the checklist's facts start from it."""
    live = env.current()
    facts = {"environment": env.name, "live": live, "commit": None, "ready": False, "django": None}
    if live:
        path = os.path.join(env.releases, live)
        facts["commit"] = env.meta(live).get("commit")
        facts["ready"] = os.path.exists(os.path.join(path, READY))
        try:
            out = env.django(path, "facts", capture=True)
            facts["django"] = json.loads(out.strip().splitlines()[-1])
        except (Failure, ValueError, IndexError) as err:
            facts["django"] = {"error": str(err)}
    return facts


def server_facts(env, config):
    """Everything the server checks read, gathered once; no check reads the server again."""
    e = config["envs"][env.name]
    facts = {**live_facts(env), "user": e.get("user")}
    path = os.path.join(env.releases, facts["live"]) if facts["live"] else None
    facts["units"] = {u: _run("systemctl", "show", "-p", "ActiveState", "-p", "SubState", "--value", u)[1].split("\n") for u in (f"{env.unit}.service", f"{env.unit}.socket")}
    facts["socket"] = _stat(e["socket"]) if e.get("socket") else {"exists": False, "error": "not in the tool's config"}
    facts["env_file"] = _stat(env.env_file)
    facts["release"] = {
        "ready": facts["ready"],
        "venv": bool(path) and os.path.exists(os.path.join(path, f"{env.project}env", "bin", "python")),
        "static": bool(path) and os.path.isdir(os.path.join(path, ".static")),
    }
    facts["static_files"] = _static_files(path) if path else []
    code, out, err = _run("sudo", "-n", "-l")
    facts["sudo"] = {"code": code, "listing": out or err}
    facts["others"] = {
        name: {"enter": os.access(o["live"].rsplit("/", 1)[0], os.X_OK), "releases_writable": os.access(o["releases"], os.W_OK), "env_file_readable": os.access(o["envFile"], os.R_OK)}
        for name, o in config["envs"].items()
        if name != env.name
    }
    return facts


def _get(env, path):
    connection = http.client.HTTPConnection("127.0.0.1", env.port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": env.host})
        r = connection.getresponse()
        return r.status, r.getheader("X-Release", ""), r.read()
    finally:
        connection.close()


def _http_results(env, facts):
    try:
        status, release, _ = _get(env, "/")
        yield "nginx-port", True, f"answered {status}"
    except OSError as e:
        yield "nginx-port", False, f"no answer on 127.0.0.1:{env.port}: {e}"
        yield "health", False, "nginx does not answer"
        yield "static-bytes", False, "nginx does not answer"
        return
    status, release, _ = _get(env, env.health)
    yield "health", status < 500 and release == facts["live"], f"GET {env.health}: {status} from {release or 'no X-Release header'} (live: {facts['live']})"
    if not facts["static_files"]:
        yield "static-bytes", False, "the live release has no collected static files"
        return
    seen = []
    for f in facts["static_files"]:
        status, _, body = _get(env, env.static_url + f["path"])
        same = status == 200 and hashlib.sha256(body).hexdigest() == f["sha256"]
        seen.append(f"{env.static_url}{f['path']}: {status}{'' if same else ', not the release’s bytes' if status == 200 else ''}")
        if not same:
            yield "static-bytes", False, "; ".join(seen)
            return
    yield "static-bytes", True, "; ".join(seen)


def _server_results(env, config, facts):
    e = config["envs"][env.name]
    user = e.get("user")
    service, socket_unit = facts["units"][f"{env.unit}.service"], facts["units"][f"{env.unit}.socket"]
    yield "unit-active", service == ["active", "running"], f"{env.unit}.service: {'/'.join(service)}"
    s = facts["socket"]
    yield "socket-listening", socket_unit[0] == "active" and s.get("socket", False), f"{env.unit}.socket: {'/'.join(socket_unit)}; {e.get('socket')}: {'a socket' if s.get('socket') else s.get('error', 'not a socket')}"
    yield "socket-owner", s.get("exists") and (s["owner"], s["group"], s["mode"]) == (user, "www-data", "660"), f"{s.get('owner')}:{s.get('group')} mode {s.get('mode')}" if s.get("exists") else s.get("error")
    r = facts["release"]
    yield "live-release-complete", bool(facts["live"]) and all(r.values()), f"live: {facts['live'] or 'nothing'}; " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r.items())
    f = facts["env_file"]
    yield "env-file-private", f.get("exists") and (f["mode"], f["owner"]) == ("600", user), f"{env.env_file}: mode {f.get('mode')}, owner {f.get('owner')}" if f.get("exists") else f"{env.env_file}: {f.get('error')}"
    d = facts["django"] or {"error": "nothing is live"}
    if "error" in d:
        for check in ("database-own", "migrations-applied", "debug-off"):
            yield check, False, f"the live release's Django could not say: {d['error']}"
    else:
        yield "database-own", (d["vendor"], d["database"], d["user"]) == ("postgresql", e.get("database"), e.get("role")), f"{d['vendor']} database {d['database']} as {d['user']}"
        yield "migrations-applied", not d["unapplied"], f"unapplied: {', '.join(d['unapplied'])}" if d["unapplied"] else "none unapplied"
        yield "debug-off", (not d["debug"]) or env.tier == "development", f"DEBUG {'on' if d['debug'] else 'off'} in a {env.tier or 'untiered'} environment"
    listing = facts["sudo"]["listing"]
    allowed = sorted(re.findall(r"/usr/bin/systemctl [\w -]+? gunicorn@\S+?(?=,|\s*$)", listing[listing.find("may run"):], re.M))
    own = sorted(" ".join(c) for c in env.gunicorn.values())
    broad = re.search(r"\(ALL(\s*:\s*ALL)?\)\s*ALL|NOPASSWD:\s*ALL\b", listing)
    yield "sudo-scoped", facts["sudo"]["code"] == 0 and allowed == own and not broad, f"sudo -l allows: {'; '.join(allowed) or listing[:200]}"
    if config.get("isolation") == "shared":
        yield "other-envs-closed", None, "isolation is shared: one user runs every environment (the seed's choice)"
    else:
        open_ = [f"{n}: {', '.join(k for k, v in o.items() if v)}" for n, o in facts["others"].items() if any(o.values())]
        yield "other-envs-closed", not open_, "open: " + "; ".join(open_) if open_ else f"closed: {', '.join(facts['others']) or 'no other environment'}"


def evaluate(env, config, http=True):
    facts = server_facts(env, config)
    seen = dict((i, (ok, s)) for i, ok, s in _server_results(env, config, facts))
    if http:
        seen.update((i, (ok, s)) for i, ok, s in _http_results(env, facts))
    results = []
    for c in config.get("checklist", []):
        if c["side"] == "http" and not http:
            continue
        ok, s = seen.get(c["id"], (False, "this tool has no evaluation for it: install the tool and its config from one recipe"))
        names = {"<env>": env.name, "<user>": config["envs"][env.name].get("user", ""), "<tool>": os.path.basename(config.get("tool", "release"))}
        fill = lambda text: re.sub("|".join(map(re.escape, names)), lambda m: names[m.group(0)], text)
        results.append({"id": c["id"], "side": c["side"], "sentence": fill(c["sentence"]), "expects": fill(c["expects"]), "lookAt": fill(c["lookAt"]), "status": "skipped" if ok is None else "passed" if ok else "failed", "seen": s or ""})
    return {"environment": env.name, "live": facts["live"], "commit": facts["commit"], "health": env.health, "static_url": env.static_url, "host": env.host, "static_files": facts["static_files"], "results": results}


def until_passed(env, config, http, retry_seconds):
    """Evaluates again until nothing fails or the deadline passes (a check right after a restart)."""
    end = time.monotonic() + retry_seconds
    while True:
        report = evaluate(env, config, http)
        if not any(r["status"] == "failed" for r in report["results"]) or time.monotonic() >= end:
            return report
        time.sleep(1)


def junit(report):
    results = report["results"]
    failures = sum(r["status"] == "failed" for r in results)
    skipped = sum(r["status"] == "skipped" for r in results)
    suite = f"verify {report['environment']}"
    cases = []
    for r in results:
        body = f'<failure message={quoteattr(r["seen"])}>{escape("expected " + r["expects"] + "; look at " + r["lookAt"])}</failure>' if r["status"] == "failed" else "<skipped/>" if r["status"] == "skipped" else ""
        cases.append(f'  <testcase classname={quoteattr(suite)} name={quoteattr(r["id"] + ": " + r["sentence"])}>{body}</testcase>')
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name={quoteattr(suite)} tests="{len(results)}" failures="{failures}" skipped="{skipped}">\n' + "\n".join(cases) + "\n</testsuite>\n"


def table(report):
    # The same table as `npm run verify` prints (harness/verify/report.ts).
    mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}
    commit = f" ({report['commit'][:8]})" if report.get("commit") else ""
    lines = [f"{report['environment']}: live {report['live'] or 'nothing'}{commit}"]
    for r in report["results"]:
        lines.append(f"  {mark[r['status']]} {r['id']}: {r['sentence']}")
        if r["status"] != "passed":
            lines.append(f"       seen: {r['seen']}")
        if r["status"] == "failed":
            lines.append(f"       expected {r['expects']}; look at {r['lookAt']}")
    failed = sum(r["status"] == "failed" for r in report["results"])
    passed = sum(r["status"] == "passed" for r in report["results"])
    lines.append(f"{report['environment']}: {failed} of {len(report['results'])} checks failed" if failed else f"{report['environment']}: all {passed} checks passed")
    return "\n".join(lines) + "\n"
