/**
 * Checks the public API's documentation: every export of a public module
 * (packages/<pkg>/src/*.ts, the index files excepted) carries JSDoc with
 * `@since`, `@category` and an `@example`, and every example type-checks
 * against the built packages. So does every ```ts block of README.md and of
 * the packages' READMEs, as written: each is a module of its own, as a reader
 * would paste it. The line before a block may mark it:
 *
 * - `<!-- continues the block above -->`: checked appended to the previous
 *   checked block of that file (a variant shown right after it, sharing its
 *   imports);
 * - `<!-- file: <path> -->`: the block is that file (test/readme-recipes.test.ts keeps them equal), which the
 *   type-check covers.
 * - `<!-- not checked: <reason> -->`: skipped, the reason required and
 *   printed (keep these few: a block that needs a package this repository
 *   does not have).
 *
 * Exits 1 listing what is wrong, README problems at their README line.
 *
 * Run after `pnpm build`: `tsx scripts/check-docs.ts`.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = join(root, "packages/platform-node/.doc-examples")
const problems: Array<string> = []
/** README blocks also have their Markdown file and their parts (a block, then those continuing it) with their lines. */
const examples: Array<{
  file: string
  code: string
  markdown?: string
  parts?: Array<{ line: number; code: Array<string> }>
}> = []
const skipped: Array<string> = []

const tagsOf = (node: ts.Node): Map<string, Array<string>> => {
  const tags = new Map<string, Array<string>>()
  for (const doc of ts.getJSDocCommentsAndTags(node)) {
    if (!ts.isJSDoc(doc)) continue
    for (const tag of doc.tags ?? []) {
      const text = typeof tag.comment === "string" ? tag.comment : (ts.getTextOfJSDocComment(tag.comment) ?? "")
      tags.set(tag.tagName.text, [...(tags.get(tag.tagName.text) ?? []), text])
    }
  }
  return tags
}

const exportedName = (statement: ts.Statement): string | undefined => {
  const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined
  if (!modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) return undefined
  if (ts.isVariableStatement(statement))
    return statement.declarationList.declarations.map((d) => d.name.getText()).join(",")
  if (
    ts.isFunctionDeclaration(statement) ||
    ts.isClassDeclaration(statement) ||
    ts.isInterfaceDeclaration(statement) ||
    ts.isTypeAliasDeclaration(statement)
  )
    return statement.name?.text
  return undefined
}

for (const pkg of ["core", "platform-node"]) {
  const dir = join(root, "packages", pkg, "src")
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "index.ts")) {
    const path = join(dir, name)
    const source = ts.createSourceFile(path, ts.sys.readFile(path)!, ts.ScriptTarget.ES2022, true)
    const seen = new Set<string>()
    for (const statement of source.statements) {
      const exported = exportedName(statement)
      if (exported === undefined || seen.has(exported)) continue // an overload's implementation shares its doc
      const tags = tagsOf(statement)
      if (tags.size === 0 && ts.isFunctionDeclaration(statement)) continue
      seen.add(exported)
      const where = `${pkg}/src/${name}: ${exported}`
      for (const tag of ["since", "category", "example"]) if (!tags.has(tag)) problems.push(`${where} has no @${tag}`)
      for (const [i, example] of (tags.get("example") ?? []).entries()) {
        const code = /```ts\n([\s\S]*?)```/.exec(example)?.[1]
        if (code === undefined) problems.push(`${where}: @example has no \`\`\`ts block`)
        else examples.push({ file: `${pkg}-${name.replace(/\.ts$/, "")}-${exported.replace(/,/g, "-")}-${i}.ts`, code })
      }
    }
  }
}

// The READMEs' ```ts blocks, each checked as a module of its own, unless marked on the line before it.
const notChecked = /^<!--\s*not checked:(.*?)-->$/
const continues = /^<!--\s*continues the block above\s*-->$/
const isFile = /^<!--\s*file:\s*\S+\s*-->$/
for (const markdown of ["README.md", "packages/core/README.md", "packages/platform-node/README.md"]) {
  const lines = ts.sys.readFile(join(root, markdown))!.split("\n")
  let previous: { parts: Array<{ line: number; code: Array<string> }> } | undefined // the last block checked
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\S*)/.exec(lines[i]!)
    if (fence === null) continue
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l))
    if (end === -1) {
      problems.push(`${markdown}:${i + 1}: a code block that never ends`)
      break
    }
    const before = lines[i - 1]?.trim() ?? ""
    const skip = notChecked.exec(before)
    const isTs = fence[2] === "ts" || fence[2] === "typescript"
    const code = lines.slice(i + 1, end).map((l) => l.slice(fence[1]!.length))
    if (!isTs) {
      if (skip !== null || continues.test(before))
        problems.push(`${markdown}:${i}: a marker before a block that is not ts`)
    } else if (isFile.test(before)) {
      // A recipe: the block is that file, verbatim (test/readme-recipes.test.ts), and the file is type-checked.
      previous = undefined
    } else if (skip !== null) {
      const reason = skip[1]!.trim()
      if (reason === "") problems.push(`${markdown}:${i}: "not checked" without a reason`)
      else skipped.push(`${markdown}:${i + 2} (${reason})`)
      previous = undefined
    } else if (continues.test(before)) {
      if (previous === undefined) problems.push(`${markdown}:${i}: "continues the block above", but none is checked`)
      // Appended to the block it continues: its lines are reported at their own place in the Markdown.
      else previous.parts.push({ line: i + 2, code })
    } else {
      const file = `readme-${markdown.replace(/\/?README\.md$/, "").replace(/[/]/g, "-") || "root"}-${i + 2}.ts`
      const example = { file, code: "", parts: [{ line: i + 2, code }], markdown }
      examples.push(example)
      previous = example
    }
    i = end
  }
}
for (const e of examples) if (e.parts !== undefined) e.code = e.parts.flatMap((p) => p.code).join("\n")

/** Where line `line` (0-based) of an example file is, for README blocks: `README.md:<line>`. */
const locate = (file: string, line: number): string => {
  const example = examples.find((e) => e.file === file)
  if (example?.parts === undefined) return file
  let rest = line
  for (const part of example.parts) {
    if (rest < part.code.length) return `${example.markdown}:${part.line + rest}`
    rest -= part.code.length
  }
  return `${example.markdown}:${example.parts.at(-1)!.line}`
}

// Each example is a module of its own, compiled as a user's code would be: against the packages' exports.
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
for (const { file, code } of examples) writeFileSync(join(out, file), `${code}\nexport {}\n`)
const program = ts.createProgram(
  examples.map((e) => join(out, e.file)),
  {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.esnext.disposable.d.ts"],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
    typeRoots: [join(root, "node_modules/@types"), join(root, "packages/platform-node/node_modules/@types")]
  }
)
for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  let file = ""
  if (diagnostic.file !== undefined) {
    const name = diagnostic.file.fileName.replace(`${out}/`, "")
    file = `${locate(name, diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line)}: `
  }
  problems.push(`example ${file}${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`)
}
rmSync(out, { recursive: true, force: true })

if (problems.length > 0) {
  console.error(problems.join("\n"))
  console.error(`\n${problems.length} documentation problem(s)`)
  process.exit(1)
}
const readme = examples.filter((e) => e.parts !== undefined).length
console.log(
  `documentation: every public export documented; ${examples.length - readme} examples and ${readme} README blocks type-check` +
    (skipped.length > 0 ? `; not checked: ${skipped.join(", ")}` : "")
)
