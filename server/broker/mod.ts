/** The task runtime's hot path: the Broker interface and its Redis and in-memory implementations. */
export type { Broker, BrokerTask, ClaimRequest, Lease, Limits, LimitScope, QueueCounts } from "./broker.ts";
export { createMemoryBroker, type MemoryBrokerOptions } from "./memory_broker.ts";
export { createRedisBroker, type RedisBrokerOptions } from "./redis_broker.ts";
