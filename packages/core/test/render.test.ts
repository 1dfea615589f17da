import { describe, expect, it } from "@effect/vitest"
import { Data } from "effect"
import { keyOfArgs } from "../src/internal/key.js"
import { renderKey } from "../src/internal/render.js"

const secret = Symbol("password")

/** A key, the secret text it holds, and parts of it that must still show. */
const cases: ReadonlyArray<readonly [unknown, string, ReadonlyArray<string>]> = [
  ["postgres://app:hunter2@db/app", "hunter2", ["postgres://app:", "@db/app"]],
  ["postgres://app:p@ssw0rd@db/app", "ssw0rd", ["postgres://app:", "@db/app"]],
  ["postgres://app:pa/ss@db/app", "pa/ss", ["postgres://app:", "@db/app"]],
  ["postgres://app:p@ss/w rd@db/app", "ss/w rd", ["postgres://app:", "@db/app"]],
  ["postgres://app:hun ter2@db/app", "ter2", ["postgres://app:", "@db/app"]],
  ["redis://:hunter2@cache:6379", "hunter2", ["redis://:", "@cache:6379"]],
  ["mongodb+srv://u:hunter2@cluster0.example.net/app", "hunter2", ["mongodb+srv://u:", "@cluster0.example.net/app"]],
  ["POSTGRES://APP:hunter2@DB/APP", "hunter2", ["POSTGRES://APP:", "@DB/APP"]],
  ["https://x-access-token:hunter2@github.com/org/repo", "hunter2", ["x-access-token:", "@github.com/org/repo"]],
  ["jdbc:postgresql://db:5432/app?user=app&password=hunter2", "hunter2", ["//db:5432/app?user=app&password="]],
  [
    "https://api.example.com/v1?api_key=hunter2&format=json",
    "hunter2",
    ["api.example.com/v1?api_key=", "&format=json"]
  ],
  ["https://api.example.com/v1?access_token=hunter2", "hunter2", ["api.example.com"]],
  ["Server=db;User Id=app;Password=hunter2;", "hunter2", ["Server=db;User Id=app;Password="]],
  ["Server=db;User Id=app;PWD=hunter2;Database=app", "hunter2", ["Server=db;User Id=app;", "Database=app"]],
  ["Data Source=db;Password=hun ter2;User ID=app", "ter2", ["Data Source=db;", "User ID=app"]],
  ["host=db user=app password=hunter2 dbname=app", "hunter2", ["host=db user=app password=", "dbname=app"]],
  ["host=db user=app password='hun ter2' dbname=app", "ter2", ["host=db user=app", "dbname=app"]],
  ['{"user":"app","password":"hunter2","db":"app"}', "hunter2", ['\\"user\\":\\"app\\"', '\\"db\\":\\"app\\"']],
  ["Authorization: Bearer hunter2", "hunter2", ["Authorization: "]],
  [{ host: "db", user: "app", password: "hunter2" }, "hunter2", ['host: "db"', 'user: "app"', "password: ***"]],
  [{ host: "db", auth: { user: "app", pass: "hunter2" } }, "hunter2", ['host: "db"', "auth: ***"]],
  [{ host: "db", smtp: { user: "app", pass: "hunter2" } }, "hunter2", ['host: "db"', 'user: "app"']],
  [{ apiKey: "hunter2", region: "eu" }, "hunter2", ['region: "eu"']],
  [{ "api-key": "hunter2", API_KEY: "hunter3" }, "hunter", ["api-key: ***"]],
  [{ accessToken: "hunter2", refreshToken: "hunter3" }, "hunter", ["accessToken: ***"]],
  [{ headers: { Authorization: "Bearer hunter2" } }, "hunter2", ["headers: { Authorization: *** }"]],
  [{ clientId: "app", clientSecret: "hunter2" }, "hunter2", ['clientId: "app"']],
  [{ private_key: "-----BEGIN hunter2", privateKey: "hunter3" }, "hunter", ["private_key: ***"]],
  [{ credentials: { user: "app", key: "hunter2" } }, "hunter2", ["credentials: ***"]],
  [{ sessionToken: "hunter2", cookie: "sid=hunter3" }, "hunter", ["cookie: ***"]],
  [{ DB_PASSWORD: "hunter2", dbPasswd: "hunter3", pwd: "hunter4" }, "hunter", ["DB_PASSWORD: ***"]],
  [{ secret: 12345678 }, "12345678", ["secret: ***"]],
  [[{ host: "db", password: "hunter2" }], "hunter2", ['[{ host: "db", password: *** }]']],
  [keyOfArgs(["db", { password: "hunter2" }]), "hunter2", ['("db", { password: *** })']],
  [{ host: "db", [secret]: "hunter2" }, "hunter2", ['host: "db"', "[Symbol(password)]: ***"]],
  [{ db: { url: "postgres://app:hunter2@db/app" } }, "hunter2", ['{ db: { url: "postgres://app:***@db/app" } }']],
  [
    JSON.parse('{"host":"db","__proto__":{"password":"hunter2"}}'),
    "hunter2",
    ['host: "db"', "__proto__: { password: *** }"]
  ]
]

describe("renderKey", () => {
  it.each(cases)("masks the secret of %j", (key, hidden, shown) => {
    const text = renderKey(key)
    expect(text).not.toContain(hidden)
    for (const part of shown) expect(text).toContain(part)
  })

  it("keeps URLs without a password and names that mean no secret", () => {
    for (const key of [
      "postgres://app@db:5432/app",
      "https://registry.npmjs.org:443/effect",
      "postgres://db:5432/app?sslmode=require",
      "host=db user=app dbname=app"
    ]) {
      expect(renderKey(key)).toBe(JSON.stringify(key))
    }
    expect(renderKey({ host: "db", user: "app", author: "me", keyPrefix: "k" })).toBe(
      '{ host: "db", user: "app", author: "me", keyPrefix: "k" }'
    )
  })

  it("renders symbol-keyed and __proto__ properties, and stays bounded", () => {
    const tenant = Symbol("tenant")
    expect(renderKey({ host: "db", [tenant]: "acme" })).toBe('{ host: "db", [Symbol(tenant)]: "acme" }')
    expect(renderKey({ [Symbol.asyncDispose]: async () => {} })).toBe("{}")
    expect(renderKey(JSON.parse('{"__proto__":{"a":1}}'))).toBe("{ __proto__: { a: 1 } }")
    const long = renderKey({ url: `postgres://app:${"x".repeat(500)}@db/app`, pad: "y".repeat(500) })
    expect(long.length).toBeLessThanOrEqual(200)
    expect(long).not.toContain("x")
  })

  it("renders other values as before", () => {
    expect(renderKey(undefined)).toBe("()")
    expect(renderKey(keyOfArgs([]))).toBe("()")
    expect(renderKey(keyOfArgs([1, "a"]))).toBe('(1, "a")')
    expect(renderKey(Data.struct({ password: "hunter2" }))).toBe("[Object]")
    expect(renderKey(new Date(0))).toBe("[Date]")
    expect(renderKey(function connect() {})).toBe("[function connect]")
    expect(renderKey(1n)).toBe("1n")
    expect(renderKey({ a: [1, { b: 2 }] })).toBe("{ a: [1, { b: 2 }] }")
  })
})
