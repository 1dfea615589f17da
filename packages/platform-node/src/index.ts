/**
 * @since 0.1.0
 */
export * as NodeLoopLocal from "./NodeLoopLocal.js"

/**
 * @since 0.1.0
 */
export { atExit, closeOnSignals, currentLoop, run, shutdown, storage } from "./Lifetime.js"

/**
 * @since 0.1.0
 */
export type { CloseOptions, ShutdownOptions, SignalOptions } from "./Lifetime.js"

/**
 * @since 0.1.0
 */
export { singleton, stickySingleton } from "./Singleton.js"

/**
 * @since 0.1.0
 */
export type { Cached, SingletonOptions, StickySingletonOptions } from "./Singleton.js"

/**
 * @since 0.1.0
 */
export { enter, enterOnce, sticky } from "./Enter.js"

/**
 * Renders a shutdown report as a short table (the same as `LoopLocal.formatShutdownReport`).
 *
 * @since 0.1.0
 */
export { formatShutdownReport } from "./Lifetime.js"
