/** Asks `read` until `accept` likes the answer, pausing briefly between tries; the test timeout bounds it. */
export async function poll<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read()
    if (accept(value)) return value
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
