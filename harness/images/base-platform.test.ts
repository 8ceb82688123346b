import { describe, expect, it } from "vitest";
import { refParts } from "./build.ts";
import { parsePlatform, PlatformError } from "./base-platform.ts";

describe("parsePlatform (TESTBED_BASE)", () => {
  it("means Debian bookworm by debootstrap when unset, empty or the old plain spelling", () => {
    for (const v of [undefined, "", "debootstrap", "debootstrap:bookworm"]) {
      expect(parsePlatform(v)).toEqual({ spec: "debootstrap:bookworm", slug: "bookworm", suite: "bookworm" });
    }
  });

  it("builds trixie by debootstrap", () => {
    expect(parsePlatform("debootstrap:trixie")).toEqual({ spec: "debootstrap:trixie", slug: "trixie", suite: "trixie" });
  });

  it("takes any registry image, with a slug fit for tags and paths", () => {
    expect(parsePlatform("ubuntu:24.04")).toEqual({ spec: "ubuntu:24.04", slug: "ubuntu-24.04", image: "ubuntu:24.04" });
    expect(parsePlatform("registry.example.com:5000/os/ubuntu:22.04").slug).toBe("registry.example.com-5000-os-ubuntu-22.04");
  });

  it("gives slugs that never collide between the platforms the matrix runs", () => {
    const slugs = ["debootstrap:bookworm", "debootstrap:trixie", "ubuntu:24.04", "ubuntu:22.04"].map((v) => parsePlatform(v).slug);
    expect(new Set(slugs).size).toBe(slugs.length);
  });

  it("refuses a suite it does not know, saying which it knows", () => {
    expect(() => parsePlatform("debootstrap:sid")).toThrow(PlatformError);
    expect(() => parsePlatform("debootstrap:sid")).toThrow(/debootstrap:bookworm, debootstrap:trixie/);
  });

  it("refuses what is no image reference, saying how to get the default", () => {
    expect(() => parsePlatform("Ubuntu 24.04")).toThrow(/neither debootstrap:<suite> nor an image reference.*Unset it for Debian bookworm/);
  });
});

describe("refParts", () => {
  it("splits at the tag's colon, not a registry port's", () => {
    expect(refParts("django-deploy-testbed/appserver-deployed:trixie-9c3a")).toEqual({ repo: "django-deploy-testbed/appserver-deployed", tag: "trixie-9c3a" });
    expect(refParts("registry.example.com:5000/os/ubuntu:24.04")).toEqual({ repo: "registry.example.com:5000/os/ubuntu", tag: "24.04" });
    expect(refParts("registry.example.com:5000/os/ubuntu")).toEqual({ repo: "registry.example.com:5000/os/ubuntu", tag: "latest" });
  });
});
