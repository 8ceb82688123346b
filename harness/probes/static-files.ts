import type { Environment } from "../domain/envs.ts";
import { sh } from "../shell/quote.ts";
import type { Server } from "../testbed/server.ts";

/**
 * Why /static/<file> did not answer 200, in the deploy's own terms: did collectstatic run in the live
 * release, where did it write, is the file there, and what nginx says it tried to open.
 */
export async function explainStaticMiss(app: Server, env: Environment, file: string): Promise<string> {
  const live = (await app.exec.run(sh`readlink -f ${env.dir}`, { allowFailure: true })).stdout.trim() || "(no live release)";
  // collectstatic's step links `.static` in the release to the project's STATIC_ROOT.
  const linked = (await app.exec.run(sh`readlink -f ${`${live}/.static`}`, { allowFailure: true })).stdout.trim();
  const staticRoot = linked || `${live}/.static`;
  const count = await app.exec.run(sh`test -d ${staticRoot} && find ${staticRoot} -type f | wc -l`, { allowFailure: true });
  const collected = count.exitCode === 0 ? Number(count.stdout.trim()) : -1;
  const present = (await app.exec.run(sh`test -f ${`${staticRoot}/${file}`}`, { allowFailure: true })).exitCode === 0;
  const nginx = (await app.exec.run(sh`grep -F ${file} /var/log/nginx/error.log | tail -n 2`, { allowFailure: true })).stdout.trim();
  const lines = [
    collected < 0
      ? `The live release ${live} has no .static link to a STATIC_ROOT with files: collectstatic did not run there.`
      : `collectstatic wrote ${collected} files to ${staticRoot}/ (the live release's STATIC_ROOT); ${file} is ${present ? "among them" : "not among them"}.`,
    nginx ? `nginx: ${nginx}` : `nginx logged no error for ${file}: its location /static/ (root or alias) maps the URL somewhere else, or the request never reached it.`,
  ];
  if (collected >= 0 && present) lines.push(`The file is where collectstatic put it, so nginx looks elsewhere: check the site's location /static/ (alias ${env.dir}/.static/).`);
  return lines.join("\n");
}
