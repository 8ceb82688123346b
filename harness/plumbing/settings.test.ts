import { describe, expect, it } from "vitest";
import { readSettings } from "./settings.ts";

describe("the settings", () => {
  it("are read from the environment given, with defaults where it says nothing", () => {
    const s = readSettings({ HOME: "/home/x" });
    expect(s).toMatchObject({ base: undefined, dockerHost: undefined, python: "python3", noInstall: false, quiet: false, ownerPid: process.pid });
    expect(s.cacheRoot).toMatch(/\/\.cache\/django-deploy-testbed$/);
    const t = readSettings({ TESTBED_BASE: "debootstrap:trixie", DOCKER_HOST: "tcp://docker:2375", TESTBED_CACHE: "/c", TESTBED_NO_INSTALL: "1", TESTBED_QUIET: "1", TESTBED_OWNER_PID: "42", TESTBED_CGROUPNS: "private", TESTBED_PYTHON: "/usr/bin/python3.11" });
    expect(t).toMatchObject({ base: "debootstrap:trixie", dockerHost: "tcp://docker:2375", cacheRoot: "/c", noInstall: true, quiet: true, ownerPid: 42, cgroupns: "private", python: "/usr/bin/python3.11" });
    expect(readSettings({ XDG_CACHE_HOME: "/x" }).cacheRoot).toBe("/x/django-deploy-testbed");
  });

  it("take a command's flags over the environment, and ignore a flag not given", () => {
    expect(readSettings({ TESTBED_BASE: "debootstrap:trixie" }, { base: "ubuntu:24.04" }).base).toBe("ubuntu:24.04");
    expect(readSettings({ TESTBED_BASE: "debootstrap:trixie" }, { base: undefined }).base).toBe("debootstrap:trixie");
  });

  it("refuse a cgroup namespace other than host or private, naming it, and read an empty value as unset", () => {
    expect(() => readSettings({ TESTBED_CGROUPNS: "sideways" })).toThrow("TESTBED_CGROUPNS=sideways: expected host or private; unset it to use the flags chosen for this engine");
    expect(readSettings({ TESTBED_CGROUPNS: "" }).cgroupns).toBeUndefined();
    expect(readSettings({ TESTBED_BASE: "", TESTBED_NO_INSTALL: "yes" })).toMatchObject({ base: undefined, noInstall: false });
  });

  it("keep the environment they were read from, for the processes the harness starts", () => {
    const env = { PATH: "/bin", TESTBED_FAULT: "no-partof" };
    const s = readSettings(env);
    env.PATH = "/changed";
    expect(s.env.PATH).toBe("/bin");
    expect(s.fault).toBe("no-partof");
  });
});
