/**
 * Group 3: the Promise hit of stickySingleton by shape of key: one string;
 * three primitives; a config object passed as a fresh literal each call; an
 * Effect `Equal` value (a fresh `Data.struct` each call).
 */
import { Data } from "effect"
import { measure, report, withRatios } from "../../../bench/harness.js"
import { stickySingleton } from "../src/index.js"

const OPS = 1_000
const disposable = <A extends object>(a: A) => Object.assign(a, { [Symbol.dispose]() {} })

const byString = stickySingleton((url: string) => disposable({ url }))
const byPrimitives = stickySingleton((host: string, port: number, ssl: boolean) => disposable({ host, port, ssl }))
interface Config {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly ssl: { readonly rejectUnauthorized: boolean }
}
const byConfig = stickySingleton((config: Config) => disposable({ config }))
const byEqual = stickySingleton((config: { readonly host: string; readonly port: number }) => disposable({ config }))

const config = (): Config => ({ host: "db.internal", port: 5432, database: "app", ssl: { rejectUnauthorized: true } })
await Promise.all([
  byString("postgres://db.internal:5432/app"),
  byPrimitives("db.internal", 5432, true),
  byConfig(config()),
  byEqual(Data.struct({ host: "db.internal", port: 5432 }))
])

const measured = await measure(
  [
    [
      "one string",
      async () => {
        for (let i = 0; i < OPS; i++) await byString("postgres://db.internal:5432/app")
      }
    ],
    [
      "three primitives",
      async () => {
        for (let i = 0; i < OPS; i++) await byPrimitives("db.internal", 5432, true)
      }
    ],
    [
      "config object, fresh literal",
      async () => {
        for (let i = 0; i < OPS; i++) {
          await byConfig({ host: "db.internal", port: 5432, database: "app", ssl: { rejectUnauthorized: true } })
        }
      }
    ],
    [
      "Equal key (Data.struct), fresh",
      async () => {
        for (let i = 0; i < OPS; i++) await byEqual(Data.struct({ host: "db.internal", port: 5432 }))
      }
    ]
  ],
  OPS
)
report(withRatios("3. Key shapes (Promise hit of stickySingleton)", measured, "one string"))
