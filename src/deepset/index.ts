/**
 * deepset Cloud upload sessions.
 *
 * @since 0.1.0
 */
export * from "./UploadSessions.js"
export * as Schemas from "./Schemas.js"
export * as Upload from "./Upload.js"
export * as UploadFile from "./UploadFile.js"
