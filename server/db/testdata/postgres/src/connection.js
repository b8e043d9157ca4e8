// The shape of the driver's defect (server/db/null_socket_guard.ts): a write queued with
// setImmediate that finds its connection's socket already gone.
export function queueWriteOnClosedSocket() {
  const socket = null;
  setImmediate(function nextWrite() {
    socket.write(new Uint8Array(1));
  });
}
