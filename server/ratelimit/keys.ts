/**
 * Rate-limit bucket keys. Each bucket is its own hash tag: a limit touches one key,
 * so a Redis Cluster may place every bucket anywhere.
 *
 * `<prefix>:rl:{<bucket>:<id digest>}`: string, GCRA TAT in epoch ms (gcra-1.lua).
 * The id (an address, an email) is hashed so no personal data sits in Redis and
 * keys have a fixed length whatever the caller sends.
 */
export async function rateBucketKey(prefix: string, bucket: string, id: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(id));
  const hex = Array.from(new Uint8Array(digest).subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return `${prefix}:rl:{${bucket}:${hex}}`;
}
