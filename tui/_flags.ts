/**
 * The TUI's command line. Strict, like the worker's: a mistyped flag is an error,
 * not an ignored option.
 */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";

export const USAGE = `usage: deno task tui [flags]

  --url=URL         the taskmesh server (default: $TASKMESH_SERVER_URL or ${DEFAULT_SERVER_URL})
  --email=EMAIL     sign in as this user (the password is asked for, masked)
  --api-key=KEY     sign in with an API key instead (default: $TASKMESH_API_KEY);
                    scopes tasks:read, tasks:manage, tags:read decide what it may do
  --read-only       show everything, change nothing: action keys are off
  --help            print this and exit

Keys: ? help · / filter · : jump to a view · tab or 1–9, 0 switch view · j/k move ·
enter detail · esc back · q quit. Every destructive key asks first.`;

export interface TuiFlags {
  url: string;
  email?: string;
  apiKey?: string;
  readOnly: boolean;
}

export type ParsedFlags = { kind: "run"; flags: TuiFlags } | { kind: "help" } | {
  kind: "error";
  message: string;
};

const VALUED = new Set(["url", "email", "api-key"]);
const SWITCHES = new Set(["read-only"]);

export function parseFlags(args: string[], env: Record<string, string | undefined>): ParsedFlags {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return { kind: "help" };
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      return {
        kind: "error",
        message: `unexpected argument ${JSON.stringify(arg)}: flags look like --name=value`,
      };
    }
    const [, name, inline] = match;
    if (SWITCHES.has(name)) {
      if (inline !== undefined && inline !== "true") {
        return { kind: "error", message: `--${name} takes no value` };
      }
      switches.add(name);
      continue;
    }
    if (!VALUED.has(name)) return { kind: "error", message: `unknown flag --${name}` };
    let value = inline;
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith("--")) {
        return { kind: "error", message: `--${name} needs a value` };
      }
    }
    if (values.has(name)) return { kind: "error", message: `--${name} is given twice` };
    values.set(name, value);
  }
  const url = values.get("url") ?? env.TASKMESH_SERVER_URL ?? DEFAULT_SERVER_URL;
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    return {
      kind: "error",
      message: `--url: ${JSON.stringify(url)} is not a URL (e.g. ${DEFAULT_SERVER_URL})`,
    };
  }
  if (parsedUrl.protocol !== "http:" && parsedUrl.protocol !== "https:") {
    return { kind: "error", message: `--url: ${url} must start with http:// or https://` };
  }
  const email = values.get("email");
  const apiKey = values.get("api-key") ?? (email ? undefined : env.TASKMESH_API_KEY || undefined);
  if (email && values.has("api-key")) {
    return { kind: "error", message: "--email and --api-key both given: sign in one way" };
  }
  return {
    kind: "run",
    flags: { url: url.replace(/\/+$/, ""), email, apiKey, readOnly: switches.has("read-only") },
  };
}
