// One live stream per page, shared by every view: views subscribe to its events.
import type { FeedEvent } from './feed-stream.js'

type Listener = (event: FeedEvent) => void

export class LiveEvents {
  private readonly listeners = new Set<Listener>()

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  publish(event: FeedEvent): void {
    for (const listener of this.listeners) listener(event)
  }
}
