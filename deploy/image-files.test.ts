// The container image holds everything its commands load: computed from the Dockerfile's COPY lines
// and .dockerignore on one side and the imports of bin/shardflow.mjs on the other (deploy/image-files.ts),
// so a folder left out fails here, naming its files, instead of in every container with
// ERR_MODULE_NOT_FOUND. Where a Docker daemon answers, the image is also built and run.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../test/cluster-harness.ts';
import { buildContextFiles, imageFiles, missingFromImage, moduleReferences, programNeeds, readDockerfile } from './image-files.ts';

const ENTRY = 'bin/shardflow.mjs';
const dockerfile = readDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const context = buildContextFiles(ROOT, readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const image = imageFiles(context, dockerfile.copies);
const entry = dockerfile.scripts.find((s) => s.endsWith(`/${ENTRY}`));
/** Where the project's root lands in the image: the folder the entry's relative imports start from. */
const appRoot = entry === undefined ? '/' : entry.slice(0, -ENTRY.length);
const needs = programNeeds(ROOT, dockerfile.scripts.map((s) => posix.relative(appRoot, s)));
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** The Dockerfile of main before `COPY . .`: an allow-list that forgot batch/, chaos/, nats/ and task/. */
const ALLOW_LIST_DOCKERFILE = `FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
${['bin', 'actors', 'cli', 'cluster', 'common', 'coordinator', 'engine', 'jobs'].map((f) => `COPY ${f} ./${f}`).join('\n')}
COPY tsconfig.json ./
ENTRYPOINT ["node", "bin/shardflow.mjs"]
`;

describe('the container image', () => {
  it('runs bin/shardflow.mjs and a healthcheck script it holds', () => {
    expect(entry, 'ENTRYPOINT runs bin/shardflow.mjs').toBeDefined();
    expect(dockerfile.scripts).toEqual([`${appRoot}bin/healthcheck.mjs`, `${appRoot}${ENTRY}`]);
  });

  it('holds every module the CLI loads, where its imports look for it', () => {
    // The walk reaches the far corners: jobs by name through the catalog, the chaos job that workers
    // load by path, the batch layer, every command.
    for (const file of ['cli/main.ts', 'jobs/examples/station-sentiment.ts', 'chaos/chaos-job.ts', 'batch/lake-folder.ts', 'task/partition-task.ts', 'nats/connect.ts', 'cli/commands/chaos.ts']) expect(needs.files, file).toContain(file);
    expect(needs.files.size).toBeGreaterThan(100);
    expect(missingFromImage(needs.files, image, appRoot)).toEqual([]);
    // ESM and `npm ci` need these two next to the sources.
    expect(image.get(`${appRoot}package.json`)).toBe('package.json');
    expect(image.get(`${appRoot}package-lock.json`)).toBe('package-lock.json');
  });

  it('installs every package the CLI imports: a dependency, since the image installs with npm ci --omit=dev', () => {
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^RUN npm ci --omit=dev /m);
    expect([...needs.packages.keys()]).toContain('tsx');
    const notInstalled = [...needs.packages].filter(([name]) => packageJson.dependencies[name] === undefined).map(([name, from]) => `${name} (imported by ${from})`);
    expect(notInstalled).toEqual([]);
  });

  it('runs from its file set alone: the CLI starts and lists the jobs', () => {
    // The image's files under a temporary root, with this checkout's packages in place of the image's
    // `npm ci --omit=dev` (the test above holds those to the dependencies).
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-image-'));
    try {
      for (const [target, file] of image) {
        const path = join(dir, target);
        mkdirSync(dirname(path), { recursive: true });
        copyFileSync(join(ROOT, file), path);
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, appRoot, 'node_modules'), 'dir');
      chmodSync(dir, 0o755);
      const env = { PATH: process.env.PATH ?? '', HOME: dir, NODE_ENV: 'production' };
      // As the image runs it where this can: as an unprivileged user (USER node, uid 1000) among files
      // owned by root, so a write next to the sources fails here as it would in the container.
      const user = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};
      const jobs = spawnSync(process.execPath, [join(dir, entry!), 'jobs'], { cwd: join(dir, appRoot), env, encoding: 'utf8', timeout: 60_000, ...user });
      expect(jobs.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
      expect(jobs.status, jobs.stderr).toBe(0);
      expect(jobs.stdout).toContain('station-sentiment');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps secrets, local state, installed packages, tests and benchmarks out', () => {
    const unwanted = [...image.values()].filter((f) => /(^|\/)\.env$|^\.shardflow\/|^node_modules\/|^\.git(\/|$)|\.test\.ts$|^test\/|^bench\//.test(f));
    expect(unwanted).toEqual([]);
  });

  it('names the missing files when a folder is left out of the image', () => {
    const withoutBatch = new Map([...image].filter(([, file]) => !file.startsWith('batch/')));
    const missing = missingFromImage(needs.files, withoutBatch, appRoot);
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.every((f) => f.startsWith('batch/'))).toBe(true);
    expect(missing).toContain('batch/lake-folder.ts');

    // The allow-list this replaced: every command failed on the folders it forgot (and on console/,
    // schema/ and sources/, which came after it).
    const old = readDockerfile(ALLOW_LIST_DOCKERFILE);
    const oldMissing = missingFromImage(needs.files, imageFiles(context, old.copies), '/app/');
    for (const folder of ['batch', 'chaos', 'nats', 'task', 'console', 'schema', 'sources']) expect(oldMissing.some((f) => f.startsWith(`${folder}/`)), folder).toBe(true);
    expect(oldMissing.filter((f) => !/^(batch|chaos|nats|task|console|schema|sources)\//.test(f))).toEqual([]);
  });

  it('places files as COPY does: folder contents into the destination, files into a folder destination', () => {
    const copies = readDockerfile('FROM x\nWORKDIR /srv\nCOPY package*.json ./\nCOPY cli lib/\nCOPY --from=build /out /opt/out\nCOPY a.txt b.txt\nWORKDIR sub\nCOPY . .\n').copies;
    const placed = imageFiles(['package.json', 'package-lock.json', 'cli/main.ts', 'cli/commands/up.ts', 'a.txt'], copies);
    expect(Object.fromEntries(placed)).toMatchObject({
      '/srv/package.json': 'package.json',
      '/srv/package-lock.json': 'package-lock.json',
      '/srv/lib/main.ts': 'cli/main.ts',
      '/srv/lib/commands/up.ts': 'cli/commands/up.ts',
      '/srv/b.txt': 'a.txt',
      '/srv/sub/cli/main.ts': 'cli/main.ts',
    });
    expect([...placed.keys()].some((p) => p.startsWith('/opt/'))).toBe(false);
  });

  it('reads .dockerignore as Docker does, exceptions included', () => {
    const files = buildContextFiles(ROOT, 'node_modules\n.git\n*\n!cli\ncli/**/*.test.ts\n');
    expect(files.length).toBeGreaterThan(0);
    expect(files.every((f) => f.startsWith('cli/') && !f.endsWith('.test.ts'))).toBe(true);
  });

  it('resolves imports as tsx does, and names an import of a file that is not there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-imports-'));
    try {
      mkdirSync(join(dir, 'lib'));
      writeFileSync(join(dir, 'main.ts'), "import { b } from './b.js';\nimport { c } from './lib';\nexport const a = b + c;\n");
      writeFileSync(join(dir, 'b.ts'), 'export const b = 1;\n');
      writeFileSync(join(dir, 'lib', 'index.ts'), "export const c = 2;\nimport('./lazy.ts');\n");
      expect(() => programNeeds(dir, ['main.ts'])).toThrow('lib/index.ts imports lib/lazy.ts, which is not in the project');
      writeFileSync(join(dir, 'lib', 'lazy.ts'), 'export {};\n');
      expect([...programNeeds(dir, ['main.ts']).files].sort()).toEqual(['b.ts', 'lib/index.ts', 'lib/lazy.ts', 'main.ts']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows what runs and skips what tsx erases', () => {
    const refs = moduleReferences(
      [
        "import type { A } from './types.ts';",
        "import { type B, type C } from './more-types.ts';",
        "import { d, type E } from './mixed.ts';",
        "export { f } from './reexport.ts';",
        "export type { G } from './type-reexport.ts';",
        "const m = await import('./lazy.ts');",
        'const p = await import(somePath);',
        "const job = join(import.meta.dirname, '..', 'jobs', 'by-path.ts');",
        "const conf = new URL('./file.conf', import.meta.url);",
        "import { z } from 'zod';",
      ].join('\n'),
      'x.ts',
    );
    expect(refs).toEqual([
      { kind: 'import', specifier: './mixed.ts' },
      { kind: 'import', specifier: './reexport.ts' },
      { kind: 'import', specifier: './lazy.ts' },
      { kind: 'file', path: '../jobs/by-path.ts' },
      { kind: 'file', path: './file.conf' },
      { kind: 'import', specifier: 'zod' },
    ]);
  });
});

const docker = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 10_000 });
const dockerAnswers = docker.status === 0;
const noDocker = docker.error ? 'docker is not installed' : `no Docker daemon answers (${(docker.stderr ?? '').trim().split('\n').at(-1)})`;
if (!dockerAnswers) console.warn(`deploy/image-files.test.ts: the image build skipped: ${noDocker}`);

describe(`the container image, built${dockerAnswers ? '' : ` (skipped: ${noDocker})`}`, () => {
  it.skipIf(!dockerAnswers)(
    'builds, and its CLI starts: --help and the job list',
    () => {
      const tag = `shardflow-image-test:${process.pid}`;
      try {
        const build = spawnSync('docker', ['build', '-q', '-t', tag, ROOT], { encoding: 'utf8', timeout: 280_000 });
        expect(build.status, build.stderr).toBe(0);
        const help = spawnSync('docker', ['run', '--rm', tag, '--help'], { encoding: 'utf8', timeout: 60_000 });
        expect(help.status, help.stderr).toBe(0);
        expect(help.stdout).toContain('Usage: shardflow <command>');
        const jobs = spawnSync('docker', ['run', '--rm', tag, 'jobs'], { encoding: 'utf8', timeout: 60_000 });
        expect(jobs.status, jobs.stderr).toBe(0);
        expect(jobs.stdout).toContain('station-sentiment');
      } finally {
        spawnSync('docker', ['rmi', '-f', tag], { timeout: 60_000 });
      }
    },
    300_000,
  );
});
