/**
 * The V8 flags the product launches its server and worker with, read from the `server` and
 * `worker` tasks in deno.json (the one launch path: `deno task server|worker`, the
 * Dockerfile and docker-compose all run those tasks), so a bench runs the processes as they
 * are deployed. README.md, "The production shape", says why those flags.
 */

const ROOT = new URL("../", import.meta.url);

/** The comma-separated `--v8-flags=` value of deno.json's `task`, or "" when it has none. */
export function productV8Flags(task: "server" | "worker"): string {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as {
    tasks: Record<string, string>;
  };
  const command = config.tasks[task];
  if (command === undefined) throw new Error(`deno.json has no "${task}" task`);
  return command.match(/--v8-flags=(\S+)/)?.[1] ?? "";
}

/**
 * The `deno run` arguments for a process launched as the product launches `task`, plus
 * `extra` flags (comma-separated; appended, so a later flag wins); `defaults` drops the
 * product's flags to measure V8's own settings.
 */
export function v8FlagArgs(
  task: "server" | "worker",
  extra: (string | undefined)[],
  defaults = false,
): string[] {
  const flags = [defaults ? "" : productV8Flags(task), ...extra].filter((f) => f !== undefined && f !== "");
  return flags.length > 0 ? [`--v8-flags=${flags.join(",")}`] : [];
}
