import { describe, expect, it } from "vitest";
import { firstAddress } from "./engine-cgroup2.ts";

// The first engine's docker0, put back after a second dockerd took it: its gateway, where Docker's
// own IPAM config leaves it out, is the subnet's first address.
describe("the default bridge's address", () => {
  it("is the subnet's first host address, whatever the subnet's size and however it is written", () => {
    expect(firstAddress("172.17.0.0/16")).toBe("172.17.0.1");
    expect(firstAddress("10.213.0.0/24")).toBe("10.213.0.1");
    expect(firstAddress("192.168.5.77/24")).toBe("192.168.5.1");
  });

  it("says nothing for what is not an IPv4 subnet", () => {
    expect(firstAddress("fd00::/64")).toBeUndefined();
    expect(firstAddress("172.17.0.0")).toBeUndefined();
  });
});
