/** gRPC server reflection (grpc.reflection.v1 and v1alpha) from the generated descriptors. */
export { type ReflectionOptions, registerReflection } from "./reflection_service.ts";
export { MAX_REQUESTS_PER_STREAM } from "./reflection_stream.ts";
