import type { Runner } from "../shell/command.ts";
import { sh } from "../shell/quote.ts";

/**
 * A server's state as text, to compare before and after something that must change nothing (a
 * re-run of the recipe, a read-only check): every file under `trees` (path, type, size, mode,
 * owner, modification time, link target) with the content digest of each regular file, and the
 * state and main PID of each unit matching `units`. Python's bytecode caches are left out: an
 * import writes them, and they are not the deployment's state.
 */
export async function serverState(server: Runner, trees: string[], units: string[]): Promise<string> {
  const files = await server.run(
    sh`find ${trees} -xdev -name __pycache__ -prune -o -printf '%p %y %s %m %u:%g %T@ %l\\n' 2>/dev/null | sort; find ${trees} -xdev -name __pycache__ -prune -o -type f -size -4M -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum`,
    { allowFailure: true },
  );
  const state = await server.run(
    sh`systemctl list-units --all --plain --no-legend --no-pager ${units} | awk '{print $1, $3, $4}' | sort; for u in $(systemctl list-units --all --plain --no-legend --no-pager ${units} | awk '{print $1}'); do echo "$u $(systemctl show -p MainPID --value "$u")"; done`,
  );
  return `${files.stdout}\n--- units\n${state.stdout}`;
}

/** The lines of one state that the other lacks, for a failure message. */
export function stateDiff(before: string, after: string): string {
  const a = new Set(before.split("\n"));
  const b = new Set(after.split("\n"));
  const gone = [...a].filter((l) => !b.has(l)).map((l) => `- ${l}`);
  const came = [...b].filter((l) => !a.has(l)).map((l) => `+ ${l}`);
  return [...gone, ...came].slice(0, 60).join("\n");
}
