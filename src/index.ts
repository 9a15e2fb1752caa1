/**
 * effect-sessions: Effect clients for the sessions APIs of deepset Cloud,
 * Jupyter Server, Looker and WhyLabs, on one shared HTTP core.
 *
 * @since 0.1.0
 */
export * as ApiError from "./core/ApiError.js"
export * as Credentials from "./core/Credentials.js"
export * as Deepset from "./deepset/index.js"
export * as Jupyter from "./jupyter/index.js"
export * as Looker from "./looker/index.js"
export * as Policy from "./core/Policy.js"
export * as WhyLabs from "./whylabs/index.js"
