/**
 * The baseline for `deno task bench:rpc`: an @grpc/grpc-js server that answers only
 * grpc.health.v1.Health/Check with SERVING, run under Deno like taskmesh's own server so
 * the two differ in the RPC stack and not in the runtime.
 *
 * Usage: deno run -A bench/rpc/grpcjs_health_server.ts --port=50051 [--host=127.0.0.1]
 * Prints one line `listening on HOST:PORT` once the port is bound.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.ts";
import { flagValue } from "./_flags.ts";

// The codec is the project's generated one (the same proto file, the same runtime
// taskmesh uses), so the comparison measures transport and dispatch, not codecs.
const checkDefinition: grpc.MethodDefinition<HealthCheckRequest, HealthCheckResponse> = {
  path: "/grpc.health.v1.Health/Check",
  requestStream: false,
  responseStream: false,
  requestSerialize: (message) => Buffer.from(toBinary(HealthCheckRequestSchema, message)),
  requestDeserialize: (bytes) => fromBinary(HealthCheckRequestSchema, bytes),
  responseSerialize: (message) => Buffer.from(toBinary(HealthCheckResponseSchema, message)),
  responseDeserialize: (bytes) => fromBinary(HealthCheckResponseSchema, bytes),
};

export const healthServiceDefinition: grpc.ServiceDefinition = { Check: checkDefinition };

const serving = create(HealthCheckResponseSchema, { status: HealthCheckResponse_ServingStatus.SERVING });

function check(
  call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
  callback: grpc.sendUnaryData<HealthCheckResponse>,
) {
  if (call.request.service !== "") {
    callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
    return;
  }
  callback(null, serving);
}

if (import.meta.main) {
  const host = flagValue(Deno.args, "host") ?? "127.0.0.1";
  const port = Number(flagValue(Deno.args, "port") ?? "50051");
  const server = new grpc.Server();
  server.addService(healthServiceDefinition, { Check: check });
  server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
    if (error) {
      console.error(`grpc-js server could not bind ${host}:${port}: ${error.message}`);
      Deno.exit(1);
    }
    console.log(`listening on ${host}:${bound}`);
  });
  // The bench stops this process with SIGTERM; close quickly rather than drain.
  Deno.addSignalListener("SIGTERM", () => {
    server.forceShutdown();
    Deno.exit(0);
  });
}
