import { sh } from "../shell/quote.ts";
import { waitFor } from "../plumbing/deadline.ts";
import type { Server } from "../testbed/server.ts";

export interface UnitState {
  activeState: string;
  subState: string;
  mainPid: number;
  unitFileState: string;
}

/** A unit's state as systemd reports it (`systemctl show`). */
export async function unitState(server: Server, unit: string): Promise<UnitState> {
  const out = (await server.exec.run(sh`systemctl show -p ActiveState,SubState,MainPID,UnitFileState ${unit}`)).stdout;
  const v = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
  return {
    activeState: v.ActiveState ?? "",
    subState: v.SubState ?? "",
    mainPid: Number(v.MainPID ?? 0),
    unitFileState: v.UnitFileState ?? "",
  };
}

/** The last lines of a unit's journal, for error messages. */
export async function journal(server: Server, unit: string, lines = 20): Promise<string> {
  return (await server.exec.run(sh`journalctl -u ${unit} -n ${lines} --no-pager -o short-monotonic 2>&1`, { allowFailure: true })).output.trim();
}

/** Waits until a unit reaches `activeState` (stop jobs propagated through a target finish later). */
export async function waitForUnitState(server: Server, unit: string, activeState: string, timeoutMs = 15_000): Promise<UnitState> {
  let last: UnitState | undefined;
  return waitFor(
    `${unit}: not ${activeState} (${server.label})`,
    async () => {
      last = await unitState(server, unit);
      return last.activeState === activeState ? last : undefined;
    },
    { timeoutMs, describe: () => `last state: ${last?.activeState}/${last?.subState}` },
  );
}

/** Some of a unit's properties as systemd has them loaded ("PartOf=gunicorn.target"), one line. */
export async function unitProperties(server: Server, unit: string, props: string[]): Promise<string> {
  const out = (await server.exec.run(sh`systemctl show -p ${props.join(",")} ${unit}`, { allowFailure: true })).stdout.trim();
  return `${unit}: ${out.split("\n").join(", ") || "(no such unit)"}`;
}
