// test/file/dropped-log.test.ts runs this on each runtime:
//   <runtime> dropped-log.mjs <dist/index.js URL> <folder>
// It opens a log and a read-only follower of it (not on Deno), drops both without close(),
// then keeps running while the garbage collector runs, and prints `survived`.
const [distUrl, folder] = process.argv.slice(2)
const { initLog } = await import(distUrl)
const filename = `${folder}/log.ndjson`

async function openAndDrop() {
  const log = await initLog({ filename })
  await log.append({ type: 'dropped' })
  // Not on Deno, whose fs.watch ignores `persistent: false`: a follower left open keeps it running.
  if (globalThis.Deno !== undefined) return
  const follower = await initLog({ filename, readOnly: true })
  if (follower.length !== 1) throw new Error(`the follower sees ${follower.length} events, not 1`)
}
await openAndDrop()

function collectGarbage() {
  if (typeof globalThis.gc === 'function') globalThis.gc()
  else if (typeof globalThis.Bun !== 'undefined') globalThis.Bun.gc(true)
  // And allocation, which is what reaches the files in a real program.
  const junk = []
  for (let i = 0; i < 200_000; i++) junk.push({ i })
}

let rounds = 0
const timer = setInterval(() => {
  collectGarbage()
  if (++rounds === 20) {
    clearInterval(timer)
    console.log('survived')
  }
}, 20)
