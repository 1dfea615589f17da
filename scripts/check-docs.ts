/**
 * Checks the public API's documentation: every export of a public module
 * (packages/<pkg>/src/*.ts, the index files excepted) carries JSDoc with
 * `@since`, `@category` and an `@example`, and every example type-checks
 * against the built packages. Exits 1 listing what is wrong.
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
const examples: Array<{ file: string; code: string }> = []

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
  const file = diagnostic.file ? `${diagnostic.file.fileName.replace(`${out}/`, "")}: ` : ""
  problems.push(`example ${file}${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`)
}
rmSync(out, { recursive: true, force: true })

if (problems.length > 0) {
  console.error(problems.join("\n"))
  console.error(`\n${problems.length} documentation problem(s)`)
  process.exit(1)
}
console.log(`documentation: every public export documented; ${examples.length} examples type-check`)
