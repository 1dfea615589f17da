import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ArgList, isPlainObject } from "./key.js"

/** Names of properties and of `name=value` pairs whose values are secrets. */
const SECRET_NAME =
  /password|passwd|passphrase|pass$|pwd|secret|token|api[-_]?key|credential|private[-_]?key|authori[sz]ation|auth$|cookie|session[-_]?id/i

/**
 * `scheme://user:password@host`. The password runs to the last "@" of the
 * URL: passwords hold unencoded "@", "/" and spaces together
 * (`p@ss/w rd`), and no shorter rule tells them from a path. So an "@" later
 * in a URL masks what comes before it (`host:443/@scope/pkg`, `?a=1@2`): too
 * much rather than too little. Bounded repetitions keep this and `PAIR_NAME`
 * linear on long keys.
 */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/?#@]*:)(?:(?!:\/\/)[\s\S])*@(?=[^\s/?#@]*(?:[\s/?#]|$))/gi

/** The name of a `name=value` pair (libpq, ADO.NET, a query string), of a property in JSON text, or of a header. */
const PAIR_NAME = /\b([a-z][\w.-]{0,63})(?:\s*=|"\s*:|:\s)\s*/gi

/** The value that follows: quoted, in braces (ADO.NET), or words up to ";", "&" or the next `name=`. */
const PAIR_VALUE = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\{[^}]*\}|[^;&\s]*(?:\s+(?![\w.-]+\s*=)[^;&\s]+)*/y

const maskString = (s: string): string => {
  const text = s.replace(URL_CREDENTIALS, "$1***@")
  let masked = ""
  let end = 0
  for (const pair of text.matchAll(PAIR_NAME)) {
    // A name inside a value already masked (`Pwd={a;token=b}`) is part of that value.
    if (pair.index < end || !SECRET_NAME.test(pair[1]!)) continue
    const start = pair.index + pair[0].length
    PAIR_VALUE.lastIndex = start
    PAIR_VALUE.exec(text)
    masked += `${text.slice(end, start)}***`
    end = PAIR_VALUE.lastIndex
  }
  return masked + text.slice(end)
}

const isEnumerable = Object.prototype.propertyIsEnumerable

/** `Symbol.asyncDispose`, `Symbol.iterator` and the like: how a value behaves, not what it is, so not shown. */
const protocols = new Set(
  Object.getOwnPropertyNames(Symbol)
    .map((name) => (Symbol as unknown as Record<string, unknown>)[name])
    .filter((u) => typeof u === "symbol")
)

/**
 * Renders a key for people: readable, bounded, with credentials in URLs and
 * connection strings and the values of properties named like secrets masked.
 *
 * @internal
 */
export const renderKey = (key: unknown): string => {
  // The key of f() and of f(undefined).
  if (key === undefined) return "()"
  const seen: Array<object> = []
  const render = (u: unknown, depth: number): string => {
    if (typeof u === "string") return JSON.stringify(maskString(u))
    if (typeof u === "bigint") return `${u}n`
    if (typeof u === "function") return `[function ${u.name || "anonymous"}]`
    if (typeof u !== "object" || u === null) return String(u)
    if (seen.includes(u)) return "[cycle]"
    if (depth > 3) return "…"
    seen.push(u)
    try {
      if (u instanceof ArgList) return `(${u.args.map((a) => render(a, depth + 1)).join(", ")})`
      if (Array.isArray(u)) return `[${u.map((a) => render(a, depth + 1)).join(", ")}]`
      if (isPlainObject(u)) {
        const o = u as Record<PropertyKey, unknown>
        const field = (label: string, name: string, value: unknown) =>
          `${label}: ${SECRET_NAME.test(name) ? "***" : render(value, depth + 1)}`
        const fields = Object.keys(o).map((k) => field(k, k, o[k]))
        for (const s of Object.getOwnPropertySymbols(o)) {
          if (!isEnumerable.call(o, s) || protocols.has(s)) continue
          fields.push(field(`[${String(s)}]`, s.description ?? "", o[s]))
        }
        return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`
      }
      if (Layer.isLayer(u)) return "[Layer]"
      if (Effect.isEffect(u)) return "[Effect]"
      const name = (u as { constructor?: { name?: string } }).constructor?.name
      return `[${name || "object"}]`
    } finally {
      seen.pop()
    }
  }
  const text = render(key, 0)
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}
