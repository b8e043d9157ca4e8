/**
 * One ServerReflectionInfo stream, answered in request order. Written against the v1 messages; v1alpha is
 * wire-identical and is converted at its edge (reflection_service.ts), so this is the only implementation.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { type DescriptorIndex, encodeFileWithImports } from "./descriptor_index.ts";

/** The default bound on requests in one stream; a client that needs more opens another stream. */
export const MAX_REQUESTS_PER_STREAM = 10_000;

export interface ReflectionStreamOptions {
  /** Requests answered on one stream before it ends with ResourceExhausted. */
  readonly maxRequestsPerStream?: number;
}

// The init shape, so nested answers can be plain objects that `create` turns into messages.
type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/** Answer each request with one response carrying it back; unknown names are errors in-band, not stream ends. */
export async function* answerReflectionStream(
  index: DescriptorIndex,
  requests: AsyncIterable<ServerReflectionRequest>,
  options: ReflectionStreamOptions = {},
): AsyncGenerator<ServerReflectionResponse> {
  const limit = options.maxRequestsPerStream ?? MAX_REQUESTS_PER_STREAM;
  // Files already sent on this stream, so a dependency travels once (the protocol lets clients cache).
  const sent = new Set<string>();
  let count = 0;
  for await (const request of requests) {
    count++;
    if (count > limit) {
      throw new ConnectError(
        `reflection stream exceeded ${limit} requests: open a new stream to ask more`,
        Code.ResourceExhausted,
      );
    }
    yield create(ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: answer(index, request, sent),
    });
  }
}

function answer(index: DescriptorIndex, request: ServerReflectionRequest, sent: Set<string>): Answer {
  const question = request.messageRequest;
  switch (question.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const file = index.files.get(question.value);
      if (!file) {
        return notFound(
          `file ${
            quote(question.value)
          } not found: ask file_containing_symbol with a name from list_services to learn file names`,
        );
      }
      return files(encodeFileWithImports(index, file, sent));
    }
    case "fileContainingSymbol": {
      const file = index.symbols.get(question.value);
      if (!file) {
        return notFound(
          `symbol ${quote(question.value)} not found: use a fully qualified name such as ` +
            `${quote(index.serviceNames[0] ?? "pkg.Service")}`,
        );
      }
      return files(encodeFileWithImports(index, file, sent));
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = question.value;
      if (!index.messages.has(containingType)) return unknownMessage(containingType);
      const extension = index.extensionsByExtendee.get(containingType)?.find((ext) =>
        ext.number === extensionNumber
      );
      if (!extension) {
        return notFound(
          `extension ${extensionNumber} of ${quote(containingType)} not found: none is declared`,
        );
      }
      return files(encodeFileWithImports(index, extension.file, sent));
    }
    case "allExtensionNumbersOfType": {
      if (!index.messages.has(question.value)) return unknownMessage(question.value);
      const numbers = (index.extensionsByExtendee.get(question.value) ?? []).map((ext) => ext.number);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: question.value, extensionNumber: numbers.sort((a, b) => a - b) },
      };
    }
    case undefined:
      return error(
        Code.InvalidArgument,
        "request names no question: set one of list_services, file_by_filename, file_containing_symbol, " +
          "file_containing_extension or all_extension_numbers_of_type",
      );
  }
}

function files(fileDescriptorProto: Uint8Array[]): Answer {
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
}

function unknownMessage(typeName: string): Answer {
  return notFound(`message type ${quote(typeName)} not found: use its fully qualified name`);
}

function notFound(message: string): Answer {
  return error(Code.NotFound, message);
}

function error(code: Code, message: string): Answer {
  // connect's Code enum uses the gRPC numbers, which is what error_code carries.
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

/** Client input in messages, bounded so a huge name cannot balloon every error answer. */
function quote(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
