/**
 * Registers gRPC server reflection, v1 and v1alpha, on a Connect router. v1alpha is still what some clients
 * (older grpcurl, some IDE plugins) ask for; its messages are wire-identical to v1, so its stream is the v1
 * stream with each message re-read through the other schema.
 */
import {
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { createDescriptorIndex } from "./descriptor_index.ts";
import { answerReflectionStream, type ReflectionStreamOptions } from "./reflection_stream.ts";

export type ReflectionOptions = ReflectionStreamOptions;

/**
 * Serve reflection for `services` plus both reflection services, answering from the generated descriptors.
 */
export function registerReflection(
  router: ConnectRouter,
  services: readonly DescService[],
  options: ReflectionOptions = {},
): void {
  const index = createDescriptorIndex([...services, v1.ServerReflection, v1alpha.ServerReflection]);
  router.service(v1.ServerReflection, {
    serverReflectionInfo: (requests) => answerReflectionStream(index, requests, options),
  });
  router.service(v1alpha.ServerReflection, {
    serverReflectionInfo: (requests) =>
      convertStream(
        answerReflectionStream(
          index,
          convertStream(requests, v1alpha.ServerReflectionRequestSchema, v1.ServerReflectionRequestSchema),
          options,
        ),
        v1.ServerReflectionResponseSchema,
        v1alpha.ServerReflectionResponseSchema,
      ),
  });
}

/** Re-read each message of a stream as another, wire-identical type; lazy, so it buffers nothing. */
async function* convertStream<From extends DescMessage, To extends DescMessage>(
  messages: AsyncIterable<MessageShape<From>>,
  from: From,
  to: To,
): AsyncGenerator<MessageShape<To>> {
  for await (const message of messages) yield fromBinary(to, toBinary(from, message));
}
