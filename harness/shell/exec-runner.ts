import { dockerExec } from "../docker/exec-api.ts";
import { checked, type CommandResult, type Runner, type RunOptions } from "./command.ts";

/** Commands in a container through the engine's exec API: how the harness itself looks at a server. */
export class DockerExecRunner implements Runner {
  constructor(readonly containerId: string, readonly where: string) {}

  async run(command: string, opts: RunOptions = {}): Promise<CommandResult> {
    const r = await dockerExec(this.containerId, ["bash", "-c", command], { user: opts.as, stdin: opts.stdin });
    return checked(this.where, command, r, opts);
  }
}
