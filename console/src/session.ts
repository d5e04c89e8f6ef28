// The tokens the console was given, for this browser tab's session only (sessionStorage:
// gone when the tab closes, never written to disk by the console itself).
const READ_KEY = 'inlet.readToken'
const ADMIN_KEY = 'inlet.adminToken'

function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null // storage disabled: the token lives in memory until reload
  }
}

const memory = new Map<string, string>()

function get(key: string): string | null {
  return storage()?.getItem(key) ?? memory.get(key) ?? null
}

function set(key: string, value: string | null): void {
  if (value === null) {
    storage()?.removeItem(key)
    memory.delete(key)
  } else {
    storage()?.setItem(key, value)
    memory.set(key, value)
  }
}

export const readToken = {
  get: () => get(READ_KEY),
  set: (value: string | null) => set(READ_KEY, value),
}

export const adminToken = {
  get: () => get(ADMIN_KEY),
  set: (value: string | null) => set(ADMIN_KEY, value),
}
