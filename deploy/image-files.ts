// What the container image holds and what the CLI needs, computed from the files themselves so that a
// folder left out of the image fails a test instead of failing every command of the image with
// ERR_MODULE_NOT_FOUND:
// - the image's file set: the build context (the project folder less .dockerignore, as Docker reads
//   it) copied by the Dockerfile's COPY lines into WORKDIR;
// - the program: every module reachable from the image's ENTRYPOINT and HEALTHCHECK scripts through
//   static imports, re-exports, dynamic imports of a literal, and files named next to a module
//   (`join(import.meta.dirname, 'x.ts')`, `new URL('./x.ts', import.meta.url)`), such as the chaos
//   job that workers load by path; and the npm packages those modules import.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, posix, relative, sep } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import ts from 'typescript';

// The package is CommonJS (`module.exports = factory`) but its types declare `export default`: under
// NodeNext the default import is typed as the module, while at run time it is the factory itself.
const ignore = dockerignore as unknown as typeof dockerignore.default;

/** One COPY (or ADD) of the build context: its sources, relative to the context, and its target. */
export interface ContextCopy {
  readonly sources: readonly string[];
  /** Absolute path in the image. */
  readonly destination: string;
}

export interface DockerfileFacts {
  readonly copies: readonly ContextCopy[];
  /** Absolute paths in the image of the scripts node runs: the ENTRYPOINT's and the HEALTHCHECK's. */
  readonly scripts: readonly string[];
}

/** The COPY lines and the scripts of a Dockerfile, with relative paths made absolute by WORKDIR. */
export function readDockerfile(text: string): DockerfileFacts {
  let workdir = '/';
  const copies: ContextCopy[] = [];
  const scripts: string[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') workdir = '/';
    if (keyword === 'WORKDIR') workdir = posix.resolve(workdir, args[0]!);
    if (keyword === 'COPY' || keyword === 'ADD') {
      const flags = 'getFlags' in instruction ? (instruction as Instruction & { getFlags(): { getName(): string }[] }).getFlags() : [];
      // Files from another stage or image are not the build context's.
      if (flags.some((f) => f.getName() === 'from')) continue;
      copies.push({ sources: args.slice(0, -1), destination: posix.resolve(workdir, args.at(-1)!) + (args.at(-1)!.endsWith('/') ? '/' : '') });
    }
    if (keyword === 'ENTRYPOINT' || keyword === 'HEALTHCHECK') {
      // HEALTHCHECK's `CMD [...]` is not parsed as JSON: its words keep their quotes and brackets.
      const words = (jsonWords(instruction) ?? args).map((w) => w.replace(/^[["']+|[\]"',]+$/g, ''));
      for (const w of words) if (/\.(mjs|cjs|js|ts)$/.test(w)) scripts.push(posix.resolve(workdir, w));
    }
  }
  return { copies, scripts };
}

function jsonWords(instruction: Instruction): string[] | undefined {
  const json = instruction as Instruction & { getJSONStrings?: () => { getJSONValue(): string }[] };
  const words = json.getJSONStrings?.().map((s) => s.getJSONValue());
  return words && words.length > 0 ? words : undefined;
}

/** Every file of the build context, relative and with `/`: the folder less what .dockerignore excludes. */
export function buildContextFiles(root: string, dockerignore: string): string[] {
  const rules = ignore().add(dockerignore.split('\n'));
  // A folder that is excluded cannot be brought back unless an exception (`!...`) exists: only then
  // must its files be looked at one by one (this keeps node_modules and .git unread).
  const hasExceptions = /^\s*!/m.test(dockerignore);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!hasExceptions && rules.ignores(`${path}/`)) continue;
        walk(path);
      } else if (!rules.ignores(path)) {
        files.push(path);
      }
    }
  };
  walk('');
  return files.sort();
}

/** Docker's source patterns: `*` and `?` within one path segment. */
function sourceMatcher(source: string): (path: string) => boolean {
  const clean = posix.normalize(source).replace(/^\.\/?|\/$/g, '');
  if (clean === '' || clean === '.') return () => true;
  const pattern = new RegExp(`^${clean.split('').map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return (path) => pattern.test(path);
}

/**
 * The image's files, absolute, each with the context file it comes from. A source that is a folder
 * copies its content into the destination; a file lands in the destination folder (ending in `/`, or
 * with several sources) or at the destination itself.
 */
export function imageFiles(contextFiles: readonly string[], copies: readonly ContextCopy[]): Map<string, string> {
  const image = new Map<string, string>();
  for (const copy of copies) {
    const intoFolder = copy.destination.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      const matches = sourceMatcher(source);
      const whole = posix.normalize(source).replace(/^\.\/?|\/$/g, '') === '' || posix.normalize(source) === '.';
      for (const file of contextFiles) {
        const parts = file.split('/');
        if (whole) {
          image.set(posix.join(copy.destination, file), file);
          continue;
        }
        // The file itself, or a file inside a folder the source names.
        for (let depth = 1; depth <= parts.length; depth++) {
          if (!matches(parts.slice(0, depth).join('/'))) continue;
          const inside = parts.slice(depth).join('/');
          const target = inside === '' ? (intoFolder ? posix.join(copy.destination, parts.at(-1)!) : copy.destination.replace(/\/$/, '')) : posix.join(copy.destination, inside);
          image.set(target, file);
          break;
        }
      }
    }
  }
  return image;
}

export interface ProgramNeeds {
  /** Project files the program loads, relative to the project folder, with `/`. */
  readonly files: ReadonlySet<string>;
  /** npm packages it imports, each with a module that imports it. */
  readonly packages: ReadonlyMap<string, string>;
}

/** The modules reachable from `entries` (relative to `root`) and the packages they import. */
export function programNeeds(root: string, entries: readonly string[]): ProgramNeeds {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!/\.(mjs|cjs|js|ts|mts)$/.test(file)) continue;
    for (const reference of moduleReferences(readFileSync(join(root, file), 'utf8'), file)) {
      if (reference.kind === 'file') {
        const path = join(root, dirname(file), reference.path);
        // A folder the program serves or reads (the console's pages): every file in it.
        if (existsSync(path) && statSync(path).isDirectory()) queue.push(...filesUnder(path).map((f) => toPosix(relative(root, f))));
        else queue.push(toPosix(relative(root, path)));
      } else if (reference.specifier.startsWith('.') || reference.specifier.startsWith('/')) {
        queue.push(resolveModule(root, toPosix(relative(root, join(root, dirname(file), reference.specifier))), file));
      } else if (!isBuiltin(reference.specifier)) {
        const name = reference.specifier.startsWith('@') ? reference.specifier.split('/').slice(0, 2).join('/') : reference.specifier.split('/')[0]!;
        if (!packages.has(name)) packages.set(name, file);
      }
    }
  }
  return { files, packages };
}

/** A relative import as tsx resolves it: the file named, else `.js` read as `.ts`, else with `.ts` or
 *  `/index.ts` added. */
function resolveModule(root: string, path: string, importer: string): string {
  const candidates = [path, path.replace(/\.(m|c)?js$/, '.$1ts'), `${path}.ts`, `${path}/index.ts`];
  const found = candidates.find((c) => existsSync(join(root, c)) && statSync(join(root, c)).isFile());
  if (found === undefined) throw new Error(`${importer} imports ${path}, which is not in the project`);
  return found;
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(folder, e.name)) : [join(folder, e.name)]));
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

type ModuleReference = { kind: 'import'; specifier: string } | { kind: 'file'; path: string };

/** What a module loads at run time. Type-only imports are left out: tsx erases them. */
export function moduleReferences(text: string, fileName: string): ModuleReference[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const found: ModuleReference[] = [];
  const literal = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : undefined);
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) {
      const specifier = literal(node.moduleSpecifier);
      const named = node.importClause?.namedBindings;
      // `import { type A, type B } from` is erased whole, like `import type`.
      const onlyTypes = node.importClause !== undefined && node.importClause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      if (specifier !== undefined && !onlyTypes) found.push({ kind: 'import', specifier });
    } else if (ts.isExportDeclaration(node) && !node.isTypeOnly) {
      const specifier = literal(node.moduleSpecifier);
      if (specifier !== undefined) found.push({ kind: 'import', specifier });
    } else if (ts.isCallExpression(node)) {
      const [first, ...rest] = node.arguments;
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const specifier = literal(first);
        if (specifier !== undefined) found.push({ kind: 'import', specifier });
      } else if (ts.isIdentifier(node.expression) && node.expression.text === 'join' && first !== undefined && first.getText(source) === 'import.meta.dirname') {
        const parts = rest.map(literal);
        if (parts.length > 0 && parts.every((p) => p !== undefined)) found.push({ kind: 'file', path: join(...(parts as string[])) });
      }
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL') {
      const [first, second] = node.arguments ?? [];
      const path = literal(first);
      if (path !== undefined && second?.getText(source) === 'import.meta.url' && path.startsWith('.')) found.push({ kind: 'file', path });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The files `needs` names that the image does not hold where the program looks for them. */
export function missingFromImage(needs: ReadonlySet<string>, image: ReadonlyMap<string, string>, appRoot: string): string[] {
  return [...needs].filter((file) => image.get(posix.join(appRoot, file)) !== file).sort();
}
