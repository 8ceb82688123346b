import { describe, expect, it } from "vitest";
import { readSettings } from "../plumbing/settings.ts";
import { connectHost, engineTcpHost, publishHostIp } from "./engine-address.ts";

describe("where ports are published and reached", () => {
  it.each([
    ["a local socket", {}, "127.0.0.1", "127.0.0.1"],
    ["unix:// DOCKER_HOST", { DOCKER_HOST: "unix:///run/other.sock" }, "127.0.0.1", "127.0.0.1"],
    ["an engine on another loopback address", { DOCKER_HOST: "tcp://127.0.0.2:2375" }, "127.0.0.2", "127.0.0.2"],
    ["a remote engine by address", { DOCKER_HOST: "tcp://10.1.2.3:2376" }, "10.1.2.3", "10.1.2.3"],
    ["a remote engine by name", { DOCKER_HOST: "tcp://buildhost:2375" }, "buildhost", "0.0.0.0"],
    ["docker-in-docker", { DOCKER_HOST: "tcp://docker:2375", TESTCONTAINERS_HOST_OVERRIDE: "docker" }, "docker", "0.0.0.0"],
  ] as const)("%s", (_what, env, connect, publish) => {
    expect(connectHost(readSettings(env))).toBe(connect);
    expect(publishHostIp(readSettings(env))).toBe(publish);
  });

  it("reads an IPv6 engine address without its brackets", () => {
    expect(engineTcpHost("tcp://[::1]:2375")).toBe("::1");
  });
});
