// test/file/deno-lock.test.ts runs this on Deno, with more or fewer permissions:
//   deno run <permissions> deno-lock.mjs <dist/index.js URL> <log file> open|hold
// `open` opens the log for writing, prints what happened as JSON (`{"opened":true}`,
// or the error's code and message) and closes it; `hold` opens it, prints
// `{"holding":true}` and keeps it open until killed.
const [distUrl, filename, mode] = process.argv.slice(2)
const { initLog } = await import(distUrl)

let log
try {
  log = await initLog({ filename })
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }))
  process.exit(0)
}
if (mode === 'hold') {
  console.log(JSON.stringify({ holding: true }))
  setInterval(() => {}, 1000)
} else {
  await log.close()
  console.log(JSON.stringify({ opened: true }))
}
