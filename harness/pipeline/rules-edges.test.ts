import { describe, expect, it } from "vitest";
import { evaluateIf, jobWhen, RuleSyntaxError } from "./rules.ts";

// The rules engine's edges, as GitLab reads them (mutation testing found them unasserted).
const push = { CI_PIPELINE_SOURCE: "push", CI_COMMIT_BRANCH: "main", CI_COMMIT_REF_NAME: "main" };
const tag = { CI_PIPELINE_SOURCE: "push", CI_COMMIT_TAG: "v1", CI_COMMIT_REF_NAME: "v1" };
const mr = { CI_PIPELINE_SOURCE: "merge_request_event", CI_COMMIT_REF_NAME: "feature", CI_MERGE_REQUEST_IID: "1" };
const schedule = { CI_PIPELINE_SOURCE: "schedule", CI_COMMIT_BRANCH: "main", CI_COMMIT_REF_NAME: "main" };

describe("rules:if expressions", () => {
  it("reads strings in either quotes, with escapes, spaces anywhere, null, != and parentheses", () => {
    expect(evaluateIf(`$A == 'x y'`, { A: "x y" })).toBe(true);
    expect(evaluateIf(`$A=="a\\"b"`, { A: 'a"b' })).toBe(true);
    expect(evaluateIf(`  $A   !=   "x"  `, { A: "y" })).toBe(true);
    expect(evaluateIf(`$A != "x"`, { A: "x" })).toBe(false);
    expect(evaluateIf(`$UNSET == null`, {})).toBe(true);
    expect(evaluateIf(`$A == null`, { A: "" })).toBe(false);
    expect(evaluateIf(`($A == "1" || $B == "1") && $C`, { B: "1", C: "x" })).toBe(true);
    expect(evaluateIf(`$EMPTY`, { EMPTY: "" })).toBe(false);
    expect(evaluateIf(`$NULLISH`, {})).toBe(false);
  });

  it("matches =~ and !~ against /regex/ with flags, and a variable holding one; an unset variable matches nothing", () => {
    expect(evaluateIf(`$A =~ /^REL/i`, { A: "release-1" })).toBe(true);
    expect(evaluateIf(`$A =~ /^REL/`, { A: "release-1" })).toBe(false);
    expect(evaluateIf(`$A !~ /^rel/`, { A: "main" })).toBe(true);
    expect(evaluateIf(`$A =~ $PATTERN`, { A: "v1.2", PATTERN: "/^v\\d/" })).toBe(true);
    expect(evaluateIf(`$A =~ $PATTERN`, { A: "x/v1", PATTERN: "/^v\\d/" })).toBe(false);
    expect(evaluateIf(`$UNSET =~ /.*/`, {})).toBe(false);
    expect(evaluateIf(`$UNSET !~ /.*/`, {})).toBe(true);
    expect(evaluateIf(`$A =~ /a\\/b/`, { A: "a/b" })).toBe(true);
  });

  it("refuses what it cannot read, naming the expression", () => {
    const refused = (expr: string, why: string) => {
      const err = (() => {
        try {
          evaluateIf(expr, {});
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err, expr).toBeInstanceOf(RuleSyntaxError);
      expect(err!.name).toBe("RuleSyntaxError");
      expect(err!.message).toBe(`rules:if "${expr}": ${why}`);
    };
    refused(`($A == "1"`, `missing ")"`);
    refused(`$A =~ null`, "=~ needs a /regex/ on its right");
    refused(`$A == "1" "2"`, "unexpected text after position 3");
    refused(`== "1"`, 'unexpected "=="');
  });
});

describe("rules:if, read token by token from where the last one ended", () => {
  it("reads a /regex/ holding operator characters as one regex", () => {
    expect(evaluateIf(`$B =~ /^(feature|fix)-/`, { B: "fix-1" })).toBe(true);
    expect(evaluateIf(`$B =~ /a==b/`, { B: "xa==by" })).toBe(true);
    expect(evaluateIf(`$B =~ /a==b/`, { B: "ab" })).toBe(false);
  });

  it("reads null before a regex later in the expression as null", () => {
    expect(evaluateIf(`null != $X && $Y =~ /ok/`, { X: "1", Y: "ok" })).toBe(true);
    expect(evaluateIf(`null != $X && $Y =~ /ok/`, { Y: "ok" })).toBe(false);
  });

  it("names the very text it cannot read, from where it stands", () => {
    expect(() => evaluateIf(`$A == xnull`, {})).toThrow(`rules:if "$A == xnull": cannot read "xnull"`);
  });

  it("compares != as text, not as a pattern", () => {
    expect(evaluateIf(`$X != "abc"`, { X: "xabcx" })).toBe(true);
    expect(evaluateIf(`$X != "a.c"`, { X: "abc" })).toBe(true);
    expect(evaluateIf(`$X == "a.c"`, { X: "abc" })).toBe(false);
  });

  it("takes a quoted pattern's slashes off only when it starts and ends with one", () => {
    expect(evaluateIf(`$X =~ "/^v1/"`, { X: "v1.2" })).toBe(true);
    // Not wrapped in slashes: the text is the pattern, slashes and all.
    expect(evaluateIf(`$X =~ "/a/b"`, { X: "/a/b" })).toBe(true);
    expect(evaluateIf(`$X =~ "x/a/"`, { X: "x/a/" })).toBe(true);
    expect(evaluateIf(`$X =~ "x/a/"`, { X: "xa" })).toBe(false);
  });
});

describe("only/except, as GitLab reads them", () => {
  it("names pipelines by kind: branches, tags, pushes, merge requests, schedules", () => {
    const on = (refs: string[], vars: Record<string, string>) => jobWhen({ only: refs }, vars);
    expect(on(["tags"], tag)).toBe("on_success");
    expect(on(["tags"], push)).toBeUndefined();
    expect(on(["pushes"], push)).toBe("on_success");
    expect(on(["pushes"], schedule)).toBeUndefined();
    expect(on(["merge_requests"], mr)).toBe("on_success");
    expect(on(["merge_requests"], push)).toBeUndefined();
    expect(on(["schedules"], schedule)).toBe("on_success");
    expect(on(["schedules"], push)).toBeUndefined();
  });

  it("names a branch by name or /regex/ with flags, never a merge request's source branch", () => {
    expect(jobWhen({ only: ["main"] }, push)).toBe("on_success");
    expect(jobWhen({ only: ["/^MA/i"] }, push)).toBe("on_success");
    expect(jobWhen({ only: ["/^MA/"] }, push)).toBeUndefined();
    expect(jobWhen({ only: ["/ai/"] }, push)).toBe("on_success");
    expect(jobWhen({ only: ["feature"] }, mr)).toBeUndefined();
    // A /regex/ only when the whole pattern is one: these are names, compared as they are.
    expect(jobWhen({ only: ["release/v1/"] }, { ...push, CI_COMMIT_REF_NAME: "xv1x" })).toBeUndefined();
    expect(jobWhen({ only: ["release/v1/"] }, { ...push, CI_COMMIT_REF_NAME: "release/v1/" })).toBe("on_success");
    expect(jobWhen({ only: ["/a/1"] }, { ...push, CI_COMMIT_REF_NAME: "a" })).toBeUndefined();
    // A pipeline without a ref name (none is set) matches no name and no pattern, not even /./.
    expect(jobWhen({ only: ["/./"] }, { CI_PIPELINE_SOURCE: "push" })).toBeUndefined();
  });

  it("needs every key of a block to match (refs and variables), any variable of the list; an empty block matches nothing", () => {
    expect(jobWhen({ only: { refs: ["main"], variables: ['$X == "1"', '$Y == "1"'] } }, { ...push, Y: "1" })).toBe("on_success");
    expect(jobWhen({ only: { refs: ["main"], variables: ['$X == "1"'] } }, push)).toBeUndefined();
    expect(jobWhen({ only: {} }, push)).toBeUndefined();
    expect(jobWhen({ except: {} }, push)).toBe("on_success");
    expect(jobWhen({ only: ["branches"], except: ["main"] }, push)).toBeUndefined();
    // No only: branches and tags, by GitLab's default; the job's own when after that.
    expect(jobWhen({ when: "manual" }, tag)).toBe("manual");
    expect(jobWhen({}, mr)).toBeUndefined();
  });
});
