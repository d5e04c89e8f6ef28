import { gzipSync } from 'node:zlib'
import { defineConfig, type Plugin } from 'vite'

/** The console's JavaScript, gzipped, may not exceed this (the budget). */
const BUDGET_BYTES = 150 * 1024

/** Prints the gzipped size of the JavaScript the build wrote, and fails the build over budget. */
function bundleBudget(): Plugin {
  return {
    name: 'inlet-bundle-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      let gzipped = 0
      for (const file of Object.values(bundle)) {
        if (file.type === 'chunk') gzipped += gzipSync(file.code, { level: 9 }).length
      }
      const kb = (bytes: number) => (bytes / 1024).toFixed(1)
      const line = `console JavaScript: ${kb(gzipped)} KB gzipped (budget ${kb(BUDGET_BYTES)} KB)`
      if (gzipped > BUDGET_BYTES) this.error(`${line}: over budget`)
      process.stdout.write(`${line}\n`)
    },
  }
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  // Nothing from the network at run time, and no public/ folder to copy.
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Everything in files: a strict CSP forbids inline scripts and data: modules.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
  plugins: [bundleBudget()],
})
