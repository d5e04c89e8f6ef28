import { spawnSync } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

/**
 * For threads that must take spare CPU only (reads, forwarding). On Linux the calling thread switches to SCHED_IDLE (with util-linux's
 * `chrt`, which any user may use to lower a thread's own priority): a thread that answers
 * or commits webhooks then preempts a read the moment it has work, where a lower nice value
 * still let a running read finish its time slice first (measured: webhook p99 9 ms alone,
 * 36 ms with a browsing client at nice 10). Without `chrt`, nice 19.
 */
export function lowerPriority(): void {
  try {
    const thread = readlinkSync('/proc/thread-self').split('/').at(-1) as string
    const idle = spawnSync('chrt', ['--idle', '--pid', '0', thread], { stdio: 'ignore', timeout: 2000 })
    if (idle.status === 0) return
  } catch {
    // Not Linux: no /proc/thread-self.
  }
  try {
    setPriority(19)
  } catch {
    // Not permitted here: the thread still works, at normal priority.
  }
}
