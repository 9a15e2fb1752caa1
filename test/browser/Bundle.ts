/**
 * Bundling for the browser with esbuild (`platform: "browser"`), recording
 * every Node built-in the bundle would import and who imports it.
 */
import * as esbuild from "esbuild"
import { builtinModules } from "node:module"
import * as NodePath from "node:path"

/** The package root. */
export const root = NodePath.resolve(import.meta.dirname, "../..")

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]))
const isBuiltin = (path: string) => path.startsWith("node:") || builtins.has(path) || builtins.has(path.split("/")[0]!)

/** A Node built-in a bundle imports, and the file (relative to the root) that imports it. */
export interface NodeImport {
  readonly module: string
  readonly importer: string
}

/** A browser bundle of `entry` (relative to the root): its code, its inputs, and the Node built-ins it imports. */
export interface Bundle {
  readonly code: string
  readonly inputs: ReadonlyArray<string>
  readonly nodeImports: ReadonlyArray<NodeImport>
}

/** Bundles `entry` as one ES module for the browser; Node built-ins are recorded and left external. */
export const bundleForBrowser = async (entry: string): Promise<Bundle> => {
  const found: Array<NodeImport> = []
  const result = await esbuild.build({
    entryPoints: [NodePath.join(root, entry)],
    absWorkingDir: root,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [{
      name: "node-builtins",
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => {
          if (!isBuiltin(args.path)) return undefined
          found.push({ module: args.path, importer: NodePath.relative(root, args.importer) })
          return { path: args.path, external: true }
        })
      }
    }]
  })
  return {
    code: result.outputFiles[0]!.text,
    inputs: Object.keys(result.metafile.inputs),
    nodeImports: found
  }
}
