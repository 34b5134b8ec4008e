/** The inspect page's script and styles, bundled (uPlot included) when the CLI is built: see tsup.config.ts. */
declare module 'virtual:inspect-page' {
  /** The page's script, one self-contained file. */
  export const script: string
  /** The page's styles, uPlot's among them. */
  export const style: string
}
