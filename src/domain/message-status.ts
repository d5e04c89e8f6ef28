/**
 * The delivery statuses a WhatsApp message goes through, and how its current status moves:
 * only forward, in the order sent < delivered < read < played, and `failed` is final,
 * whatever order the webhooks arrive in (Meta does not promise order: a late `sent` must
 * not downgrade a `delivered`).
 */
export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'played', 'failed'] as const
export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

const RANK: Record<MessageStatus, number> = { sent: 1, delivered: 2, read: 3, played: 4, failed: 9 }

export function isMessageStatus(value: unknown): value is MessageStatus {
  return typeof value === 'string' && Object.hasOwn(RANK, value)
}

/** Higher ranks win: the current status is the received one with the highest rank. */
export function statusRank(status: MessageStatus): number {
  return RANK[status]
}

/** Statuses in the forward order (the order of a status history). */
export function compareStatuses(a: MessageStatus, b: MessageStatus): number {
  return RANK[a] - RANK[b]
}
