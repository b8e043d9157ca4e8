/**
 * Lease ids name their queue: `<queue>/<uuid>`. `extend` and `release` receive only a
 * task id and a lease id, yet in Redis a lease lives in its queue's slot (so claiming is
 * one cluster-safe script); the queue in the id routes those calls there without a
 * lookup. Both brokers make ids this way so leases survive a switch between them.
 */
export function newLeaseId(queue: string): string {
  return `${queue}/${crypto.randomUUID()}`;
}

/** The queue a lease id names, or undefined for an id this format did not make. */
export function queueOfLeaseId(leaseId: string): string | undefined {
  // The uuid has no slash, so the last one ends the queue whatever the queue holds.
  const at = leaseId.lastIndexOf("/");
  return at > 0 ? leaseId.slice(0, at) : undefined;
}
