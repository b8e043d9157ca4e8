/**
 * The operator TUI: `deno task tui [--url=…] [--email=…|--api-key=…] [--read-only]`.
 * Exits 2 on bad flags or when stdin is not a terminal (piped input cannot drive a
 * full-screen UI), 1 when the API key is refused, 0 on `q`.
 */
import "./_production.ts";
import process from "node:process";
import { render } from "ink";
import { createElement } from "react";
import { describeError } from "./data/clients.ts";
import type { Session } from "./data/session.ts";
import { signInWithApiKey } from "./data/sign_in.ts";
import { parseFlags, USAGE } from "./_flags.ts";
import { Root } from "./root.tsx";

export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const parsed = parseFlags(args, env);
  if (parsed.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (parsed.kind === "error") {
    console.error(`tui: ${parsed.message}\nrun with --help to see every flag`);
    return 2;
  }
  if (!Deno.stdin.isTerminal()) {
    console.error(
      "tui: stdin is not a terminal: the operator TUI is interactive and needs a terminal to read keys from.\n" +
        "Run it directly in a terminal (not with input piped or redirected), e.g. `deno task tui`.",
    );
    return 2;
  }
  const { flags } = parsed;
  let session: Session | undefined;
  if (flags.apiKey) {
    try {
      session = await signInWithApiKey(flags.url, flags.apiKey);
    } catch (error) {
      console.error(`tui: could not sign in with the API key at ${flags.url}: ${describeError(error)}`);
      return 1;
    }
  }
  // Deno's process.stdout does not report terminal resizes by itself: SIGWINCH does.
  const onResize = () => process.stdout.emit("resize");
  Deno.addSignalListener("SIGWINCH", onResize);
  const app = render(
    createElement(Root, { url: flags.url, session, email: flags.email, readOnly: flags.readOnly }),
    { exitOnCtrlC: false },
  );
  try {
    await app.waitUntilExit();
  } finally {
    Deno.removeSignalListener("SIGWINCH", onResize);
  }
  return 0;
}

// Streams and HTTP/2 sessions would keep the process alive after the UI is gone.
if (import.meta.main) Deno.exit(await main(Deno.args, Deno.env.toObject()));
