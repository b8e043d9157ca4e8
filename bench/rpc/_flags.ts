/** `--name=value` or `--name value` from an argument list; undefined when absent. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === `--${name}`) return args[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

/** Whether a bare `--name` switch is present. */
export function hasFlag(args: readonly string[], name: string): boolean {
  return args.includes(`--${name}`);
}
