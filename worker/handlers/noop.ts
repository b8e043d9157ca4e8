/** `noop`: does nothing and succeeds at once; what queue benchmarks measure the runtime with. */
import type { Handler } from "../handler.ts";

export const noop: Handler = () => {};
