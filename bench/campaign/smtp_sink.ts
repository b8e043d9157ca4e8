/**
 * The campaign bench's SMTP sink, in a process of its own so that its CPU is not the
 * server's nor the worker's: npm smtp-server on loopback, accepting every message and
 * keeping nothing but counts. It prints one JSON line when listening
 * (`{"listening": port}`), one at the first mail (`{"first": ms}`), and one a second
 * while mails arrive (`{"count": n, "last": ms}`), ms being the epoch time of the last
 * accepted message; SIGTERM prints the final count and exits.
 *
 * Usage: deno run -A bench/campaign/smtp_sink.ts [--port=N]
 */
import { SMTPServer } from "smtp-server";
import { flagValue } from "../rpc/_flags.ts";

let count = 0;
let last = 0;
let reported = -1;
const say = (line: object) => console.log(JSON.stringify(line));

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  logger: false,
  // Many connections at once (a pooled or a one-per-mail sender alike).
  maxClients: 5000,
  onData(stream, _session, callback) {
    stream.on("data", () => {});
    stream.on("end", () => {
      count++;
      last = Date.now();
      if (count === 1) say({ first: last });
      callback();
    });
  },
});

const report = () => {
  if (count !== reported) {
    reported = count;
    say({ count, last });
  }
};
const timer = setInterval(report, 1000);
Deno.addSignalListener("SIGTERM", () => {
  clearInterval(timer);
  report();
  server.close(() => Deno.exit(0));
});

server.listen(Number(flagValue(Deno.args, "port") ?? 0), "127.0.0.1", () => {
  const address = server.server.address();
  say({ listening: typeof address === "object" && address ? address.port : 0 });
});
