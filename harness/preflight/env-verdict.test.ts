import { describe, expect, it } from "vitest";
import { allowedEnvs, verdict, type EnvEvaluation } from "./env-verdict.ts";

// What preflight makes of release_preflight.py's answers: the policy is the tool's; the words,
// the file and line, and which environments may deploy are decided here.
const judged = (env: "dev" | "staging" | "prod", problems: EnvEvaluation["problems"]): EnvEvaluation =>
  ({ env, tier: env === "prod" ? "production" : env === "staging" ? "staging" : "development", settings: "notes.settings", facts: {}, problems }) as EnvEvaluation;

describe("preflight's verdict per environment", () => {
  it("refuses an environment with an error only, naming it, the line that set the setting, and what to change", () => {
    const debug = { severity: "error" as const, setting: "DEBUG", text: "DEBUG is on, whatever DJANGO_DEBUG says", where: "notes/settings.py:11" };
    const verdicts = [judged("dev", []), judged("staging", [{ ...debug, severity: "warning" }]), judged("prod", [debug])].map(verdict);
    expect(verdicts.map((v) => v.outcome)).toEqual(["allowed", "allowed", "refused"]);
    expect(verdicts[2]!.problems).toEqual([{ severity: "error", text: "prod: notes/settings.py:11: DEBUG is on, whatever DJANGO_DEBUG says" }]);
    expect(verdicts[1]!.problems).toEqual([{ severity: "warning", text: "staging: notes/settings.py:11: DEBUG is on, whatever DJANGO_DEBUG says" }]);
    expect(allowedEnvs(verdicts)).toEqual(["dev", "staging"]);
  });

  it("says a problem without a line as it is: a check or an app has no assignment to point at", () => {
    const v = verdict(judged("prod", [{ severity: "error", setting: "", text: "app polls has models but no migrations", where: null }]));
    expect(v.problems[0]!.text).toBe("prod: app polls has models but no migrations");
  });

  it("refuses settings that do not load, naming the variable, the file and line, and the [env] mapping that would supply it", () => {
    const e = { env: "staging", tier: "staging", settings: "cookbook.settings", error: { type: "KeyError", message: "'REDIS_URL'", where: "cookbook/settings.py:6", variable: "REDIS_URL" } } as EnvEvaluation;
    const v = verdict(e);
    expect(v.outcome).toBe("refused");
    expect(v.problems[0]!.text).toBe(
      "staging: cookbook/settings.py:6: importing cookbook.settings with staging's environment raised KeyError: 'REDIS_URL'; the deploy does not set REDIS_URL: map it in deploy-testbed.toml, under [env] for every environment or [env.staging] for this one (e.g. REDIS_URL = \"{secret_key}\"), from the values the deploy knows",
    );
    const other = verdict({ ...e, error: { type: "RuntimeError", message: "boom", where: null, variable: null } } as EnvEvaluation);
    expect(other.problems[0]!.text).toMatch(/^staging: importing cookbook\.settings with staging's environment raised RuntimeError: boom; make the settings load/);
  });
});
