/** Callbacks told that something happened (a commit that added events); one failing never stops the others. */
export class Listeners {
  private readonly listeners = new Set<() => void>()

  /** Returns the function that removes `listener`. */
  add(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  notify(): void {
    for (const listener of this.listeners) {
      try {
        listener()
      } catch {
        // A listener's own failure is its business.
      }
    }
  }
}
