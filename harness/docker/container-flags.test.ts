import { describe, expect, it } from "vitest";
import { chooseHostFlags, describeHostFlags, engineMajor, type EngineFacts } from "./container-flags.ts";

const facts = (f: Partial<EngineFacts>): EngineFacts => ({ cgroupVersion: "1", serverVersion: "20.10.24+dfsg1", securityOptions: ["name=seccomp,profile=default"], podman: false, ...f });

describe("the servers' flags, chosen from the engine's facts", () => {
  it.each([
    ["this machine: cgroup v1, Docker 20.10", facts({}), { cgroupns: "host", bindCgroup: true, writableCgroups: false, apparmorUnconfined: false, legacyCgroupForce: true, row: "cgroup v1" }],
    ["Ubuntu 22.04+ / Fedora: cgroup v2, Docker 27", facts({ cgroupVersion: "2", serverVersion: "27.5.1" }), { cgroupns: "host", bindCgroup: true, writableCgroups: false, legacyCgroupForce: false, row: "cgroup v2, Docker < 28" }],
    ["cgroup v2, Docker 28", facts({ cgroupVersion: "2", serverVersion: "28.1.1" }), { cgroupns: "private", bindCgroup: false, writableCgroups: true, row: "cgroup v2, Docker ≥ 28" }],
    ["Ubuntu's default: AppArmor", facts({ cgroupVersion: "2", serverVersion: "27.0.3", securityOptions: ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"] }), { cgroupns: "host", bindCgroup: true, apparmorUnconfined: true }],
    ["Podman's compat API", facts({ cgroupVersion: "2", serverVersion: "5.2.0", podman: true }), { cgroupns: "private", bindCgroup: false, row: "Podman" }],
    ["rootless Docker 27", facts({ cgroupVersion: "2", serverVersion: "27.3.1", securityOptions: ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"] }), { cgroupns: "private", bindCgroup: false, writableCgroups: false, row: "rootless Docker" }],
  ] as const)("%s", (_host, engine, expected) => {
    expect(chooseHostFlags(engine)).toMatchObject(expected);
  });

  it("says the host and the flags in one line, and which rows were run here", () => {
    const here = facts({});
    expect(describeHostFlags(here, chooseHostFlags(here))).toBe(
      'Docker 20.10.24+dfsg1, cgroup v1, no AppArmor: --cap-add SYS_ADMIN + seccomp=unconfined + cgroupns host + /sys/fs/cgroup bound rw + init SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1 (row "cgroup v1", run here)',
    );
    const ubuntu = facts({ cgroupVersion: "2", serverVersion: "28.0.0", securityOptions: ["name=apparmor"] });
    expect(describeHostFlags(ubuntu, chooseHostFlags(ubuntu))).toContain("cgroup v2, AppArmor: --cap-add SYS_ADMIN + seccomp=unconfined + cgroupns private + writable-cgroups=true + apparmor=unconfined");
    expect(chooseHostFlags(ubuntu).verified).toBe("documented only");
  });

  it("reads an engine's major version, and 0 when it cannot", () => {
    expect(engineMajor("20.10.24+dfsg1")).toBe(20);
    expect(engineMajor("28.1.1")).toBe(28);
    expect(engineMajor("dev")).toBe(0);
  });
});
