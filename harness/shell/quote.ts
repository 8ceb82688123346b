import pg from "pg";

/**
 * The one way a value goes into a shell command or SQL. Every interpolated value is quoted, so a
 * name, path or secret with spaces, quotes, `$`, `;` or newlines arrives as one literal word.
 */

/** A piece of shell text that is already safe (built by `sh`), and so is inserted as it is. */
export class ShellText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Quotes one word for POSIX shells: plain words stay readable, anything else is single-quoted. */
export function shellQuote(value: string | number): string {
  const s = String(value);
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

type ShellValue = string | number | ShellText | ReadonlyArray<string | number | ShellText>;

const quoteValue = (v: ShellValue): string =>
  v instanceof ShellText ? v.text : Array.isArray(v) ? v.map((x) => quoteValue(x as ShellValue)).join(" ") : shellQuote(v as string | number);

/**
 * `sh\`rm -rf ${path}\`` quotes `path`; an array becomes several quoted words; a ShellText (another
 * `sh` result, or `raw()`) is inserted unchanged. Returns the command as a string.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? quoteValue(values[i]!) : ""), "");
}

/** Shell text written by the harness itself (operators, redirections), never a value. */
export function raw(text: string): ShellText {
  return new ShellText(text);
}

/** The same, as a ShellText, for nesting one command in another. */
export function shText(strings: TemplateStringsArray, ...values: ShellValue[]): ShellText {
  return new ShellText(sh(strings, ...values));
}

/** SQL: identifiers and literals escaped by the pg client, for statements that cannot take parameters. */
export const sqlIdent = (name: string): string => pg.escapeIdentifier(name);
export const sqlLiteral = (value: string): string => pg.escapeLiteral(value);
