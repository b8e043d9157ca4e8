/**
 * One Health/Check over HTTP/2 with curl, to know a server is up and answers correctly
 * before h2load hammers it: h2load sees only HTTP status codes, and a gRPC error is an
 * HTTP 200 whose grpc-status says otherwise.
 */

export type Protocol = "grpc" | "connect";

export const CHECK_PATH = "/grpc.health.v1.Health/Check";

/** What each protocol sends for an empty HealthCheckRequest. */
export const REQUEST: Record<Protocol, { headers: string[]; body: Uint8Array }> = {
  // Length-prefixed envelope: flags 0, length 0, no message bytes.
  grpc: { headers: ["content-type: application/grpc", "te: trailers"], body: new Uint8Array(5) },
  // Connect unary sends the bare message; an empty message is zero bytes.
  connect: {
    headers: ["content-type: application/proto", "connect-protocol-version: 1"],
    body: new Uint8Array(0),
  },
};

// HealthCheckResponse{status: SERVING}: field 1, varint 1.
const SERVING = [0x08, 0x01];

export const EXPECTED_BODY: Record<Protocol, number[]> = {
  grpc: [0, 0, 0, 0, SERVING.length, ...SERVING],
  connect: SERVING,
};

export interface ProbeResult {
  ok: boolean;
  /** Why it is not ok, for the error a caller raises after the last try. */
  detail: string;
}

export async function probe(port: number, protocol: Protocol, bodyFile: string): Promise<ProbeResult> {
  const headerFile = await Deno.makeTempFile({ prefix: "probe-headers-" });
  const bodyOut = await Deno.makeTempFile({ prefix: "probe-body-" });
  try {
    const { success, stderr } = await new Deno.Command("curl", {
      args: [
        "-sS",
        "--http2-prior-knowledge",
        "--max-time",
        "2",
        "-X",
        "POST",
        ...REQUEST[protocol].headers.flatMap((header) => ["-H", header]),
        "--data-binary",
        `@${bodyFile}`,
        "-D",
        headerFile,
        "-o",
        bodyOut,
        `http://127.0.0.1:${port}${CHECK_PATH}`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) return { ok: false, detail: new TextDecoder().decode(stderr).trim() };
    // curl writes HTTP/2 trailers into the same dump as the headers.
    const headers = (await Deno.readTextFile(headerFile)).toLowerCase();
    const body = [...await Deno.readFile(bodyOut)];
    const statusLine = headers.split("\n")[0].trim();
    if (!/^http\/2 200/.test(statusLine)) return { ok: false, detail: `${statusLine}: ${bytesText(body)}` };
    if (protocol === "grpc") {
      const grpcStatus = headers.match(/grpc-status:\s*(\d+)/);
      if (!grpcStatus || grpcStatus[1] !== "0") {
        return { ok: false, detail: `grpc-status ${grpcStatus?.[1] ?? "missing"}: ${headers.trim()}` };
      }
    }
    const expected = EXPECTED_BODY[protocol];
    if (body.join() !== expected.join()) {
      return { ok: false, detail: `body ${bytesText(body)}, expected ${bytesText(expected)}` };
    }
    return { ok: true, detail: "" };
  } finally {
    await Deno.remove(headerFile).catch(() => {});
    await Deno.remove(bodyOut).catch(() => {});
  }
}

function bytesText(bytes: number[]): string {
  const text = String.fromCharCode(...bytes.filter((b) => b >= 0x20 && b < 0x7f));
  return text.length === bytes.length && bytes.length > 0
    ? JSON.stringify(text)
    : `[${bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")}]`;
}
