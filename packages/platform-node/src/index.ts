/**
 * The Node binding of the default loop and the Promise API: issue #3.
 *
 * @since 0.1.0
 */
export {}
