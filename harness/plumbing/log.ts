/** Output is injected: the harness never writes to the console itself. */
export interface Logger {
  info(message: string): void;
  /** Progress lines from long work (image builds, pip); may be dropped by quiet loggers. */
  progress(message: string): void;
}

export const silentLogger: Logger = { info() {}, progress() {} };

/** A logger that writes lines to a stream-like sink, e.g. process.stderr in a CLI. */
export function streamLogger(sink: { write(chunk: string): unknown }, opts: { progress?: boolean } = {}): Logger {
  const stamp = () => new Date().toISOString().slice(11, 19);
  return {
    info: (m) => void sink.write(`[${stamp()}] ${m}\n`),
    progress: (m) => void (opts.progress !== false && sink.write(`[${stamp()}]   ${m}\n`)),
  };
}

export function formatDuration(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The last `n` lines of a command's output, for an error message. */
export function lastLines(text: string, n = 20): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  return lines.slice(-n).join("\n");
}
