/**
 * Lease ids name their queue and the time of their claim: `<queue>/<uuid>`, the uuid laid
 * out as a version 7 one (its first 48 bits the claim's epoch ms). `extend` and `release`
 * receive only a task id and a lease id, yet in Redis a lease lives in its queue's slot (so
 * claiming is one cluster-safe script); the queue in the id routes those calls there
 * without a lookup. The claim time dates an attempt whose start Postgres never saw (its
 * worker died before its first heartbeat): the engine records it with that start. Both
 * brokers make ids this way so leases survive a switch between them.
 */
export function newLeaseId(queue: string, now: number): string {
  const random = crypto.randomUUID().replaceAll("-", "");
  const ms = Math.max(0, Math.min(Math.floor(now), 0xffff_ffff_ffff)).toString(16).padStart(12, "0");
  const hex = `${ms}7${random.slice(13, 16)}${random.slice(16, 32)}`;
  return `${queue}/${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** The queue a lease id names, or undefined for an id this format did not make. */
export function queueOfLeaseId(leaseId: string): string | undefined {
  // The uuid has no slash, so the last one ends the queue whatever the queue holds.
  const at = leaseId.lastIndexOf("/");
  return at > 0 ? leaseId.slice(0, at) : undefined;
}

/** When the lease was claimed (epoch ms), or undefined for an id without the time. */
export function claimedAtOfLeaseId(leaseId: string): number | undefined {
  const uuid = leaseId.slice(leaseId.lastIndexOf("/") + 1);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) return undefined;
  return parseInt(uuid.slice(0, 8) + uuid.slice(9, 13), 16);
}
