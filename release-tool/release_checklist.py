"""What a deployed environment must show, checked on the server, read-only: the release tool's
`checklist` command. The checks and their sentences are one table (checklist.json), which the
tool's config carries; each check the server can see is one function here, registered under its id
with @check: the `server` ones read what the server says (unit states, the socket's owner and mode,
the environment file, sudo, the other environments' trees, the live release's own Django), the
`http` ones ask nginx on 127.0.0.1 as the server asks itself. Only the `outside` ones are left to
whoever verifies from outside (`npm run verify`, the specs), which compare their own view with the
answers this report carries. A new check is one row in checklist.json and one function here.

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


def _children(pid):
    """How many processes have `pid` as their parent (gunicorn's workers of its master), from /proc."""
    if not pid.isdigit() or pid == "0":
        return 0
    count = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as f:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after its last ')'.
                count += f.read().rsplit(")", 1)[1].split()[1] == pid
        except (OSError, IndexError, ValueError):
            continue
    return count


def _listening(path):
    """Whether a process listens on the unix socket at `path`, as the kernel says (/proc/net/unix:
    a socket with __SO_ACCEPTCON in its flags), not just a socket file by that name."""
    try:
        with open("/proc/net/unix", encoding="utf-8") as f:
            rows = [line.split() for line in f.readlines()[1:]]
    except OSError:
        return False
    return any(len(r) >= 8 and r[7] == path and int(r[3], 16) & 0x10000 for r in rows)


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
    facts["workers"] = _children(_run("systemctl", "show", "-p", "MainPID", "--value", f"{env.unit}.service")[1])
    facts["socket"] = {**_stat(e["socket"]), "listening": _listening(e["socket"])} if e.get("socket") else {"exists": False, "error": "not in the tool's config"}
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


CHECKS = {}


def check(check_id):
    """Registers the function that evaluates one row of checklist.json: it returns (ok, seen), with
    ok None for a check that does not apply here (skipped), or raises Unanswered."""
    def register(fn):
        CHECKS[check_id] = fn
        return fn
    return register


class Unanswered(Exception):
    """nginx did not answer: every check that asks it fails with the same reason."""


class Subject:
    """One environment under check: its config row, the facts read once, nginx's answers asked once."""

    def __init__(self, env, config):
        self.env, self.config = env, config
        self.row = config["envs"][env.name]
        self.user = self.row.get("user")
        self.facts = server_facts(env, config)
        self.answers = {}

    def get(self, path):
        """GET `path` through nginx on 127.0.0.1 with a Host the project allows: (status, X-Release, body)."""
        if path not in self.answers:
            connection = http.client.HTTPConnection("127.0.0.1", self.env.port, timeout=5)
            try:
                connection.request("GET", path, headers={"Host": self.env.host})
                r = connection.getresponse()
                self.answers[path] = (r.status, r.getheader("X-Release", ""), r.read())
            except OSError as e:
                self.answers[path] = Unanswered(f"no answer on 127.0.0.1:{self.env.port}: {e}")
            finally:
                connection.close()
        if isinstance(self.answers[path], Unanswered):
            raise self.answers[path]
        return self.answers[path]

    def django(self):
        d = self.facts["django"] or {"error": "nothing is live"}
        if "error" in d:
            raise Unanswered(f"the live release's Django could not say: {d['error']}")
        return d


@check("unit-active")
def unit_active(s):
    service = s.facts["units"][f"{s.env.unit}.service"]
    return service == ["active", "running"], f"{s.env.unit}.service: {'/'.join(service)}"


@check("workers")
def workers(s):
    want = s.row.get("workers")
    return s.facts["workers"] == want, f"{s.facts['workers']} worker process(es) under {s.env.unit}'s main process, expected {want}"


@check("socket-listening")
def socket_listening(s):
    unit, sock = s.facts["units"][f"{s.env.unit}.socket"], s.facts["socket"]
    what = ("a listening socket" if sock.get("listening") else "a socket nothing listens on") if sock.get("socket") else sock.get("error", "not a socket")
    return unit[0] == "active" and sock.get("socket", False) and sock.get("listening", False), f"{s.env.unit}.socket: {'/'.join(unit)}; {s.row.get('socket')}: {what}"


@check("socket-owner")
def socket_owner(s):
    sock = s.facts["socket"]
    if not sock.get("exists"):
        return False, sock.get("error")
    return (sock["owner"], sock["group"], sock["mode"]) == (s.user, "www-data", "660"), f"{sock['owner']}:{sock['group']} mode {sock['mode']}"


@check("live-release-complete")
def live_release_complete(s):
    r, live = s.facts["release"], s.facts["live"]
    return bool(live) and all(r.values()), f"live: {live or 'nothing'}; " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r.items())


@check("env-file-private")
def env_file_private(s):
    f = s.facts["env_file"]
    if not f.get("exists"):
        return False, f"{s.env.env_file}: {f.get('error')}"
    return (f["mode"], f["owner"]) == ("600", s.user), f"{s.env.env_file}: mode {f['mode']}, owner {f['owner']}"


@check("database-own")
def database_own(s):
    d = s.django()
    return (d["vendor"], d["database"], d["user"]) == ("postgresql", s.row.get("database"), s.row.get("role")), f"{d['vendor']} database {d['database']} as {d['user']}"


@check("migrations-applied")
def migrations_applied(s):
    unapplied = s.django()["unapplied"]
    return not unapplied, f"unapplied: {', '.join(unapplied)}" if unapplied else "none unapplied"


@check("debug-off")
def debug_off(s):
    # The tiers of release_settings.py's policy: an error in production only (a warning in staging).
    debug = s.django()["debug"]
    return (not debug) or s.env.tier != "production", f"DEBUG {'on' if debug else 'off'} in a {s.env.tier or 'untiered'} environment"


@check("sudo-scoped")
def sudo_scoped(s):
    listing = s.facts["sudo"]["listing"]
    allowed = sorted(re.findall(r"/usr/bin/systemctl [\w -]+? gunicorn@\S+?(?=,|\s*$)", listing[listing.find("may run"):], re.M))
    # Its own environment's commands; with one shared user (isolation shared), every environment it runs.
    runs = [e for e in s.config["envs"].values() if e.get("user") == s.user] or [s.row]
    own = sorted(" ".join(c) for e in runs for c in e.get("gunicorn", {}).values())
    broad = re.search(r"\(ALL(\s*:\s*ALL)?\)\s*ALL|NOPASSWD:\s*ALL\b", listing)
    return s.facts["sudo"]["code"] == 0 and allowed == own and not broad, f"sudo -l allows: {'; '.join(allowed) or listing[:200]}"


@check("other-envs-closed")
def other_envs_closed(s):
    if s.config.get("isolation") == "shared":
        return None, "isolation is shared: one user runs every environment (the seed's choice)"
    open_ = [f"{n}: {', '.join(k for k, v in o.items() if v)}" for n, o in s.facts["others"].items() if any(o.values())]
    return not open_, "open: " + "; ".join(open_) if open_ else f"closed: {', '.join(s.facts['others']) or 'no other environment'}"


@check("nginx-port")
def nginx_port(s):
    return True, f"answered {s.get('/')[0]}"


@check("health")
def health(s):
    status, release, _ = s.get(s.env.health)
    return status < 500 and release == s.facts["live"], f"GET {s.env.health}: {status} from {release or 'no X-Release header'} (live: {s.facts['live']})"


@check("static-bytes")
def static_bytes(s):
    if not s.facts["static_files"]:
        return False, "the live release has no collected static files"
    seen = []
    for f in s.facts["static_files"]:
        status, _, body = s.get(s.env.static_url + f["path"])
        same = status == 200 and hashlib.sha256(body).hexdigest() == f["sha256"]
        seen.append(f"{s.env.static_url}{f['path']}: {status}{'' if same else ', not the release’s bytes' if status == 200 else ''}")
        if not same:
            return False, "; ".join(seen)
    return True, "; ".join(seen)


def _evaluate_one(fn, subject):
    try:
        return fn(subject)
    except Unanswered as e:
        return False, str(e)


def evaluate(env, config):
    """Every check of the config's checklist that the server can see, in the table's order; the
    report also carries the health path's answer as the server got it, for an outside view to compare."""
    subject = Subject(env, config)
    names = {"<env>": env.name, "<user>": subject.user or "", "<tool>": os.path.basename(config.get("tool", "release"))}
    fill = lambda text: re.sub("|".join(map(re.escape, names)), lambda m: names[m.group(0)], text)
    results = []
    for c in config.get("checklist", []):
        if c["side"] == "outside":
            continue
        fn = CHECKS.get(c["id"])
        ok, seen = _evaluate_one(fn, subject) if fn else (False, "this tool has no evaluation for it: install the tool and its config from one recipe")
        results.append({"id": c["id"], "side": c["side"], "sentence": fill(c["sentence"]), "expects": fill(c["expects"]), "lookAt": fill(c["lookAt"]), "status": "skipped" if ok is None else "passed" if ok else "failed", "seen": seen or ""})
    try:
        status, release, _ = subject.get(env.health)
        inside = {"status": status, "release": release}
    except Unanswered as e:
        inside = {"error": str(e)}
    facts = subject.facts
    return {"environment": env.name, "live": facts["live"], "commit": facts["commit"], "health": env.health, "static_url": env.static_url, "host": env.host, "static_files": facts["static_files"], "inside": inside, "results": results}


def until_passed(env, config, retry_seconds):
    """Evaluates again until nothing fails or the deadline passes (a check right after a restart)."""
    end = time.monotonic() + retry_seconds
    while True:
        report = evaluate(env, config)
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
