/**
 * Runs examples/effect-server.ts as a child process (tsx; the example imports the built packages) against a
 * real PostgreSQL: requests answered from the database, then SIGTERM while requests are in flight: they are
 * answered, the process exits 143, and the pool has closed every connection.
 */
import pg from "pg"
import { expect, it, onTestFinished } from "vitest"
import { spawnFixture } from "./child.js"
import { usePostgres } from "./pg-server.js"

/** The server of this file, started before its tests; if it could not start, every test fails saying why. */
const url = usePostgres()

/** Runs one query on a connection of its own (not the example's). */
const observe = async <A>(sql: string, params: Array<unknown>): Promise<Array<A>> => {
  const client = new pg.Client({ connectionString: url(), application_name: "loop-local-observer" })
  await client.connect()
  try {
    return (await client.query(sql, params)).rows as Array<A>
  } finally {
    await client.end()
  }
}

const connectionsOf = async (applicationName: string, extra = ""): Promise<number> => {
  const rows = await observe<{ n: string }>(
    `select count(*) as n from pg_stat_activity where application_name = $1 ${extra}`,
    [applicationName]
  )
  return Number(rows[0]!.n)
}

/** Polls until `check` holds (or 10 s have passed); returns its last value. */
const eventually = async <A>(read: () => Promise<A>, check: (a: A) => boolean): Promise<A> => {
  let value = await read()
  for (let i = 0; i < 100 && !check(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await read()
  }
  return value
}

interface Answer {
  readonly status: number | "no connection"
  readonly row?: { now: string; pid: number }
}

const get = async (origin: string, path: string): Promise<Answer> => {
  try {
    const response = await fetch(`${origin}${path}`)
    const text = await response.text()
    return response.ok ? { status: response.status, row: JSON.parse(text) } : { status: response.status }
  } catch {
    return { status: "no connection" } // refused once the server has stopped accepting: not an HTTP answer
  }
}

const isRow = (answer: Answer) =>
  answer.status === 200 && typeof answer.row?.now === "string" && Number.isInteger(answer.row.pid)

it("examples/effect-server.ts: answers from PostgreSQL, and on SIGTERM drains, closes its pool, exits 143", async () => {
  const appName = `loop-local-example-${process.pid}`
  const { child, finished, waitFor } = spawnFixture(
    "../../examples/effect-server.ts", // fixtures' paths are relative to test/fixtures/
    [],
    { PG_URL: url(), APP_NAME: appName, PORT: "0" },
    ["--import", "tsx"]
  )
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL") // a failed test leaves none
  })
  let output = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  await waitFor("Listening on http://127.0.0.1:")
  const origin = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!

  // Requests answered from the database, by one pool (at most its 5 connections).
  const answers = await Promise.all(Array.from({ length: 40 }, () => get(origin, "/now")))
  expect(answers.filter((a) => !isRow(a))).toEqual([])
  const pids = new Set(answers.map((a) => a.row!.pid))
  expect(pids.size).toBeGreaterThan(0)
  expect(pids.size).toBeLessThanOrEqual(5)
  expect(await connectionsOf(appName)).toBeGreaterThan(0)
  expect(await connectionsOf(appName)).toBeLessThanOrEqual(5)

  // Slow requests in flight (seen running in the database), then SIGTERM.
  const slow = Array.from({ length: 3 }, () => get(origin, "/sleep"))
  const sleeping = await eventually(
    () => connectionsOf(appName, "and state = 'active' and query like '%pg_sleep%'"),
    (n) => n === 3
  )
  expect(sleeping).toBe(3)
  child.kill("SIGTERM")
  const late = Array.from({ length: 5 }, () => get(origin, "/now")) // during the drain: answered or refused

  // The requests in flight are answered from the database: the pool closed after the drain, not before.
  const slowAnswers = await Promise.all(slow)
  expect(slowAnswers.filter((a) => !isRow(a))).toEqual([])
  const lateAnswers = await Promise.all(late)
  expect(lateAnswers.filter((a) => !(isRow(a) || a.status === "no connection"))).toEqual([])

  const { code, signal, stderr } = await finished
  expect(stderr).toBe("")
  expect({ code, signal }).toEqual({ code: 143, signal: null })
  expect(
    await eventually(
      () => connectionsOf(appName),
      (n) => n === 0
    )
  ).toBe(0)
}, 120_000)
