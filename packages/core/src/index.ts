/**
 * @since 0.1.0
 */
export * as LoopLocal from "./LoopLocal.js"
