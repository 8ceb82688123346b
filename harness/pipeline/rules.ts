/**
 * Which jobs GitLab would run: `rules:` with `if:` expressions (==, !=, =~, !~, &&, ||, parentheses,
 * bare variables) and `when:`, or `only`/`except` with refs (branch names, /regexes/, `branches`,
 * `tags`, `pushes`, `merge_requests`, `schedules`) and `variables` expressions, and the job's `when`.
 */

export type Variables = Record<string, string>;

type Token =
  | { t: "var"; name: string }
  | { t: "str"; value: string }
  | { t: "re"; source: string; flags: string }
  | { t: "null" }
  | { t: "op"; op: "==" | "!=" | "=~" | "!~" | "&&" | "||" | "(" | ")" };

export class RuleSyntaxError extends Error {
  override name = "RuleSyntaxError";
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    let m: RegExpMatchArray | null;
    if ((m = rest.match(/^\s+/))) i += m[0].length;
    else if ((m = rest.match(/^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/))) (tokens.push({ t: "var", name: m[1]! }), (i += m[0].length));
    else if ((m = rest.match(/^"((?:[^"\\]|\\.)*)"|^'((?:[^'\\]|\\.)*)'/))) (tokens.push({ t: "str", value: (m[1] ?? m[2])!.replace(/\\(.)/g, "$1") }), (i += m[0].length));
    else if ((m = rest.match(/^(==|!=|=~|!~|&&|\|\||\(|\))/))) (tokens.push({ t: "op", op: m[1] as never }), (i += m[0].length));
    else if ((m = rest.match(/^\/((?:[^/\\]|\\.)*)\/([a-z]*)/))) (tokens.push({ t: "re", source: m[1]!, flags: m[2]! }), (i += m[0].length));
    else if ((m = rest.match(/^null\b/))) (tokens.push({ t: "null" }), (i += m[0].length));
    else throw new RuleSyntaxError(`rules:if "${expr}": cannot read "${rest}"`);
  }
  return tokens;
}

type Value = string | null | RegExp;

/** Evaluates one `rules:if` expression against the pipeline's variables. */
export function evaluateIf(expr: string, vars: Variables): boolean {
  const tokens = tokenize(expr);
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (op: string) => peek()?.t === "op" && (peek() as { op: string }).op === op;

  const value = (): Value => {
    const tok = tokens[pos++];
    if (!tok) throw new RuleSyntaxError(`rules:if "${expr}": ends too early`);
    if (tok.t === "var") return vars[tok.name] ?? null;
    if (tok.t === "str") return tok.value;
    if (tok.t === "null") return null;
    if (tok.t === "re") return new RegExp(tok.source, tok.flags);
    throw new RuleSyntaxError(`rules:if "${expr}": unexpected "${tok.op}"`);
  };
  const truthy = (v: Value) => typeof v === "string" && v !== "";
  const comparison = (): boolean => {
    if (isOp("(")) {
      pos++;
      const r = or();
      if (!isOp(")")) throw new RuleSyntaxError(`rules:if "${expr}": missing ")"`);
      pos++;
      return r;
    }
    const left = value();
    const tok = peek();
    if (tok?.t !== "op" || !["==", "!=", "=~", "!~"].includes(tok.op)) return truthy(left);
    pos++;
    const right = value();
    const text = (v: Value) => (v instanceof RegExp ? v.source : v);
    if (tok.op === "==") return text(left) === text(right);
    if (tok.op === "!=") return text(left) !== text(right);
    const re = right instanceof RegExp ? right : typeof right === "string" ? new RegExp(right.replace(/^\/(.*)\/$/, "$1")) : null;
    if (!re) throw new RuleSyntaxError(`rules:if "${expr}": ${tok.op} needs a /regex/ on its right`);
    const matched = typeof left === "string" && re.test(left);
    return tok.op === "=~" ? matched : !matched;
  };
  const and = (): boolean => {
    let r = comparison();
    while (isOp("&&")) (pos++, (r = comparison() && r));
    return r;
  };
  function or(): boolean {
    let r = and();
    while (isOp("||")) (pos++, (r = and() || r));
    return r;
  }
  const result = or();
  if (pos !== tokens.length) throw new RuleSyntaxError(`rules:if "${expr}": unexpected text after position ${pos}`);
  return result;
}

export interface Rule {
  if?: string;
  when?: string;
}

type OnlyExcept = string[] | { refs?: string[]; variables?: string[] };

export interface JobSelection {
  rules?: Rule[];
  only?: OnlyExcept;
  except?: OnlyExcept;
  /** The job's own `when` (with only/except; with rules, each rule has its own). */
  when?: string;
}

function refMatches(pattern: string, vars: Variables): boolean {
  const ref = vars.CI_COMMIT_REF_NAME ?? "";
  if (pattern === "branches") return Boolean(vars.CI_COMMIT_BRANCH);
  if (pattern === "tags") return Boolean(vars.CI_COMMIT_TAG);
  if (pattern === "pushes") return vars.CI_PIPELINE_SOURCE === "push";
  if (pattern === "merge_requests") return vars.CI_PIPELINE_SOURCE === "merge_request_event";
  if (pattern === "schedules") return vars.CI_PIPELINE_SOURCE === "schedule";
  // A branch or tag name (or /regex/) names branch and tag pipelines, never a merge request's.
  if (vars.CI_PIPELINE_SOURCE === "merge_request_event") return false;
  const re = pattern.match(/^\/(.*)\/([a-z]*)$/);
  return re ? new RegExp(re[1]!, re[2]).test(ref) : pattern === ref;
}

/**
 * Whether an only/except block matches: every key it has (refs, variables) must have a condition
 * that matches, as GitLab reads it. An empty block matches nothing.
 */
function blockMatches(block: OnlyExcept, vars: Variables): boolean {
  const { refs, variables } = Array.isArray(block) ? { refs: block, variables: undefined } : block;
  if (refs === undefined && variables === undefined) return false;
  if (refs !== undefined && !refs.some((p) => refMatches(p, vars))) return false;
  if (variables !== undefined && !variables.some((expr) => evaluateIf(expr, vars))) return false;
  return true;
}

/** The `when` GitLab gives the job ("on_success", "manual", ...), or undefined when it does not run. */
export function jobWhen(job: JobSelection, vars: Variables): string | undefined {
  if (job.rules) {
    for (const rule of job.rules) {
      if (rule.if === undefined || evaluateIf(rule.if, vars)) {
        const when = rule.when ?? "on_success";
        return when === "never" ? undefined : when;
      }
    }
    return undefined;
  }
  if (!blockMatches(job.only ?? ["branches", "tags"], vars)) return undefined;
  if (job.except !== undefined && blockMatches(job.except, vars)) return undefined;
  return job.when ?? "on_success";
}
