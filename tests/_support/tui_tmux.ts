/**
 * A real pseudo-terminal for the end-to-end test: the TUI runs in a tmux session on a
 * private tmux server; the test types with send-keys and reads the screen with
 * capture-pane. Waiting follows the terminal's own output (tmux pipe-pane into a FIFO
 * the test reads), never a timer: each time the program writes, the screen is read.
 */
const decoder = new TextDecoder();

export interface TmuxScreen {
  /** The screen as text, one line per row. */
  capture(): Promise<string>;
  /** Resolves with the screen once `expect` holds; fails with the last screen after `ms`. */
  waitFor(expect: string | RegExp | ((screen: string) => boolean), ms?: number): Promise<string>;
  /** Types text literally (no key names). */
  type(text: string): Promise<void>;
  /** Sends tmux key names: "Enter", "Escape", "Tab", "Down"… */
  keys(...names: string[]): Promise<void>;
  resize(columns: number, rows: number): Promise<void>;
  close(): Promise<void>;
}

async function run(args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`tmux ${args.join(" ")} failed: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

/** Starts `command` in a new detached tmux session `columns`×`rows`. */
export async function openTmux(command: string[], size = { columns: 160, rows: 48 }): Promise<TmuxScreen> {
  const socket = `taskmesh-tui-e2e-${crypto.randomUUID().slice(0, 8)}`;
  const tmux = (...args: string[]) => run(["-L", socket, ...args]);
  const dir = await Deno.makeTempDir({ prefix: "tui-e2e-" });
  const fifo = `${dir}/output`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  if (!made.success) throw new Error("mkfifo failed");
  const quoted = command.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  // The shell stays after the program so its exit status can be read from the screen.
  const shell = `${quoted}; echo "[tui exited with status $?]"; sleep 600`;
  await tmux(
    "new-session",
    "-d",
    "-s",
    "tui",
    "-x",
    String(size.columns),
    "-y",
    String(size.rows),
    shell,
  );
  await tmux("set-option", "-t", "tui", "remain-on-exit", "on");
  await tmux("pipe-pane", "-t", "tui", "-o", `cat >> '${fifo}'`);
  const output = await Deno.open(fifo, { read: true });
  const chunk = new Uint8Array(65536);
  let outputClosed = false;

  const capture = () => tmux("capture-pane", "-p", "-t", "tui");
  return {
    capture,
    async waitFor(expect, ms = 30_000) {
      const holds = typeof expect === "string"
        ? (s: string) => s.includes(expect)
        : expect instanceof RegExp
        ? (s: string) => expect.test(s)
        : expect;
      // The deadline only turns a hang into a readable failure.
      const deadline = AbortSignal.timeout(ms);
      const timedOut = new Promise<null>((resolve) =>
        deadline.addEventListener("abort", () => resolve(null))
      );
      while (true) {
        const screen = await capture();
        if (holds(screen)) return screen;
        if (deadline.aborted) {
          throw new Error(`the terminal never showed ${String(expect)}; screen:\n${screen}`);
        }
        // Wait for the program to write something (or for the deadline).
        if (!outputClosed) {
          const n = await Promise.race([output.read(chunk), timedOut]);
          if (n === null && !deadline.aborted) outputClosed = true;
        } else await timedOut;
      }
    },
    async type(text) {
      await tmux("send-keys", "-t", "tui", "-l", text);
    },
    async keys(...names) {
      for (const name of names) await tmux("send-keys", "-t", "tui", name);
    },
    async resize(columns, rows) {
      await tmux("resize-window", "-t", "tui", "-x", String(columns), "-y", String(rows));
    },
    async close() {
      await tmux("kill-server").catch(() => {});
      try {
        output.close();
      } catch {
        // Already closed.
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}
