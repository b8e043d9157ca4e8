/**
 * Batched messages on a worker's stream (worker.proto, Hello.batches): how the server packs
 * Assigns and ResultAcks into as few messages as a worker that opted in accepts, and the
 * bounds a ResultBatch must keep. A worker that did not opt in gets one message per item,
 * exactly as before batches existed.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  AssignSchema,
  ConnectResponseSchema,
  ResultAckSchema,
} from "../../gen/taskmesh/tasks/v1/worker_pb.ts";
import { invalid } from "./_spec.ts";

type ResponseMessage = MessageInitShape<typeof ConnectResponseSchema>["message"];
type AssignInit = MessageInitShape<typeof AssignSchema>;
type AckInit = MessageInitShape<typeof ResultAckSchema>;

/** Most items in one batch, whatever the concurrency (Hello.concurrency's own bound). */
export const MAX_BATCH = 1000;
/**
 * Payload bytes past which an AssignBatch is cut: a batch stays well under the 4 MiB a gRPC
 * peer accepts by default, whatever the payloads (one larger Assign still goes, alone).
 */
export const BATCH_BYTES = 1024 * 1024;
/** What an Assign costs besides its payload, roughly: ids, spec fields, timestamps. */
const ASSIGN_OVERHEAD_BYTES = 256;

/**
 * Acks and Assigns as messages. Without batches: one message each, the acks first. With
 * batches: as few ResponseBatch messages as the bounds allow (each list at most `most`
 * items, the payloads about BATCH_BYTES), acks in the first; a lone item goes as itself.
 */
export function responseMessages(
  acks: ReadonlyArray<AckInit>,
  assigns: ReadonlyArray<AssignInit>,
  batches: boolean,
  most: number,
): ResponseMessage[] {
  if (!batches || acks.length + assigns.length === 1) {
    return [
      ...acks.map((value): ResponseMessage => ({ case: "resultAck", value })),
      ...assigns.map((value): ResponseMessage => ({ case: "assign", value })),
    ];
  }
  const limit = Math.min(most, MAX_BATCH);
  const out: ResponseMessage[] = [];
  let chunk: { resultAcks: AckInit[]; assigns: AssignInit[] } = { resultAcks: [], assigns: [] };
  let bytes = 0;
  const flush = () => {
    const { resultAcks, assigns } = chunk;
    if (resultAcks.length + assigns.length === 1) {
      out.push(
        resultAcks.length
          ? { case: "resultAck", value: resultAcks[0] }
          : { case: "assign", value: assigns[0] },
      );
    } else if (resultAcks.length + assigns.length > 1) out.push({ case: "batch", value: chunk });
    chunk = { resultAcks: [], assigns: [] };
    bytes = 0;
  };
  for (const ack of acks) {
    if (chunk.resultAcks.length >= limit) flush();
    chunk.resultAcks.push(ack);
  }
  for (const assign of assigns) {
    const size = (assign.task?.spec?.payload?.length ?? 0) + ASSIGN_OVERHEAD_BYTES;
    if (chunk.assigns.length > 0 && (chunk.assigns.length >= limit || bytes + size > BATCH_BYTES)) flush();
    chunk.assigns.push(assign);
    bytes += size;
  }
  flush();
  return out;
}

/** A ResultBatch holds 1 to `concurrency` results (never more than MAX_BATCH). */
export function checkResultBatch(count: number, concurrency: number): void {
  const most = Math.min(concurrency, MAX_BATCH);
  if (count < 1 || count > most) {
    throw invalid(
      "results.results",
      `holds ${count} results: send 1 to ${most} (the Hello's concurrency) in one ResultBatch`,
    );
  }
}

/**
 * A session's ResultAcks on their way out. Without batches each goes at once, alone; with
 * batches, those the session chooses to hold (while the worker's slots are all busy) wait
 * for its next message, and a claim's Assigns carry them (ResponseBatch).
 */
export class HeldAcks {
  #acks: AckInit[] = [];
  /**
   * Most acks held at once. A session's own results are within its held leases (twice its
   * concurrency and FINISH_SLACK); refusals of results for leases it never gave are not, and
   * a worker may send those as fast as it likes: past this they go at once.
   */
  readonly holdMost: number;

  constructor(
    readonly send: (message: ResponseMessage) => void,
    readonly batches: boolean,
    readonly most: number,
  ) {
    this.holdMost = 4 * most + 64;
  }

  /** Sends `acks` now, or, with batches and `hold`, keeps them for the next message. */
  add(acks: AckInit[], hold: boolean): void {
    if (acks.length === 0) return;
    if (!this.batches) {
      for (const value of acks) this.send({ case: "resultAck", value });
      return;
    }
    this.#acks.push(...acks);
    if (!hold || this.#acks.length > this.holdMost) this.flush();
  }

  /** Sends the acks held, now. */
  flush(): void {
    if (this.#acks.length > 0) this.withAssigns([]);
  }

  /** Sends `assigns` and the acks held, in as few messages as the bounds allow. */
  withAssigns(assigns: ReadonlyArray<AssignInit>): void {
    const acks = this.#acks;
    this.#acks = [];
    for (const message of responseMessages(acks, assigns, this.batches, this.most)) this.send(message);
  }
}
