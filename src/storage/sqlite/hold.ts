/**
 * The threads' side of the fault hooks (SqliteMessageStore.faults): counts itself in
 * `gate[1]`, then blocks until `gate[0]` becomes non-zero. Only tests send such a request.
 */
export function hold(gate: Int32Array): void {
  Atomics.add(gate, 1, 1)
  Atomics.notify(gate, 1)
  while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0)
}
