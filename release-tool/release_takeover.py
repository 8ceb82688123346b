"""An environment's hold for one deploy at a time, and taking over from a deploy that was killed:
its unfinished releases removed, a switch it left half done completed or undone. A mixin of
release_environment.Environment, whose releases, live link and nginx check it uses. Installed by
django-deploy-testbed's recipe beside the tool's other library modules.
"""
import contextlib
import os
import shutil
import time

import release_state as state
from release_common import PROG, READY, Failure, say


class Takeover:
    def last_served(self, exclude):
        """Where to go back to after a stopped switch: the release gunicorn still serves (nobody sees
        a change), else the last one the history made live, else the newest good one."""
        ready = set(self.ready_releases())
        try:
            _, serving = self.get(self.health)
        except OSError:
            serving = ""
        if serving in ready and serving != exclude:
            return serving
        lives = [e["release"] for e in state.read_history(self.root) if e["event"] == "live" and e["release"] in ready and e["release"] != exclude]
        if lives:
            return lives[-1]
        good = [n for n in sorted(ready) if n != exclude and n not in self.bad_releases()]
        return good[-1] if good else None

    def abandoned(self, holder):
        """A deploy's hold that nothing works on any more: its release gone, or no process on it and
        nothing done for the grace period (a killed or timed-out job)."""
        path = os.path.join(self.releases, holder.get("release", ""))
        if not os.path.isdir(path):
            return True
        return not state.is_active(path) and (state.connection_gone(holder) or time.time() - state.last_activity(path) > self.grace)

    @contextlib.contextmanager
    def taken(self, purpose):
        """The environment's lock, once no other deploy holds it (waiting up to lock_wait), after
        recovering whatever a killed deploy left: yields with the lock held."""
        deadline, said = time.monotonic() + self.lock_wait, False
        while True:
            with state.Locked(self.root):
                holder = state.read_holder(self.root)
                if holder and self.abandoned(holder):
                    why = "its ssh connection closed" if state.connection_gone(holder) else f"no step ran for {self.grace:.0f} s"
                    say(f"{self.name}: the deploy of {holder['release']} was abandoned ({why}); taking over")
                    os.unlink(os.path.join(self.root, state.HOLDER))
                    holder = None
                if not holder:
                    self.recover()
                    yield
                    return
            if time.monotonic() >= deadline:
                since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(holder.get("since", 0)))
                commit = self.meta(holder["release"]).get("commit", "?")[:8] if os.path.isdir(os.path.join(self.releases, holder["release"])) else "?"
                raise Failure(
                    f"{self.name}: {purpose} waited {self.lock_wait:.0f} s for the deploy of {holder['release']} (commit {commit}, pid {holder.get('pid', '?')}, "
                    f"holding since {since}), which still holds the environment; see {PROG} {self.name} list",
                    5,
                )
            if not said:
                say(f"{self.name}: {purpose} waits for the deploy of {holder['release']}")
                said = True
            time.sleep(0.2)

    def recover(self):
        """Puts right what a killed deploy left, under the lock: a live link on a release that never
        served (killed during its switch) is completed if that release serves, else pointed back at
        the release live before it; unfinished releases nobody works on are removed."""
        live = self.current()
        if live and not os.path.exists(os.path.join(self.releases, live, READY)):
            status_ok = self.wait_served(live, self.health, seconds=3) is None
            if status_ok:
                open(os.path.join(self.releases, live, READY), "w").close()
                state.append_history(self.root, "live", release=live, recovered=True)
                say(f"{self.name}: {live} went live in a deploy that was stopped, and serves: kept")
            else:
                back = self.last_served(exclude=live)
                state.append_history(self.root, "failed", release=live, problem="a switch that was stopped before it served")
                if back:
                    self.point_live_at(back)
                else:
                    os.unlink(self.live)
                self.restart()
                say(f"{self.name}: {live} went live in a deploy that was stopped, and does not serve: back to {back or 'nothing'}")
        self.clean()

    def clean(self):
        """Releases that never became ready (an interrupted or failed deploy), not live and not worked on."""
        live = self.current()
        for name in os.listdir(self.releases):
            path = os.path.join(self.releases, name)
            if name != live and os.path.isdir(path) and not os.path.exists(os.path.join(path, READY)) and not state.is_active(path):
                shutil.rmtree(path, ignore_errors=True)
                say(f"{self.name}: removed unfinished release {name}")
