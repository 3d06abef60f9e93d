// The runnable example of each package README (the ```ts example block) type-checks (strict)
// and runs against the built code (`npx tsc -b` first), printing what the README says it prints.
// Each is written inside a package's dist/ (so bare imports resolve as that package's own would,
// its own name included), transpiled to .mjs and run by node in a child process that must exit by
// itself.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POLYFILL = join(ROOT, 'scripts', 'polyfills.mjs');

/** README -> the package it runs from (one whose dependencies cover its imports) and what it prints. */
const EXAMPLES: Array<{ readme: string; runIn: string; prints: RegExp[] }> = [
  { readme: 'scheduler', runIn: 'scheduler', prints: [/^shortlist \[ 'carol', 'alice' \] winner carol score 0\.333/m, /^retry after 169 ms$/m, /^lapsed at 4000\? false$/m, /^lapsed at 4600\? true$/m, /^admitted true tokens left 1$/m] },
  { readme: 'crdt-store', runIn: 'crdt-store', prints: [/^bids: 1$/m, /^same replica after reload: true$/m, /^archived: done \{ done: 1, dead: 0, cancelled: 0, total: 1 \}$/m] },
  { readme: 'agents', runIn: 'peer', prints: [/^\{ words: 5 \} 5$/m] },
  { readme: 'peer', runIn: 'peer', prints: [/^done 42$/m, /^peers alive: 2$/m, /^spec in b's document: double$/m] },
  { readme: 'sim', runIn: 'sim', prints: [/^seed 42: OK \(5 peers, 100 tasks, 1500 steps\)$/m, /^ok true problems 0 duplicate runs \d+$/m] },
];

/** The one ```ts example block of a README. */
function exampleOf(markdown: string): string {
  const blocks = [...markdown.matchAll(/^```ts example\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  if (blocks.length !== 1) throw new Error(`expected one \`\`\`ts example block, found ${blocks.length}`);
  return blocks[0]!;
}

const source = (readme: string): string => exampleOf(readFileSync(join(ROOT, 'packages', readme, 'README.md'), 'utf8'));
const distOf = (pkg: string): string => join(ROOT, 'packages', pkg, 'dist');

describe('package README examples', () => {
  it('type-check against the built declarations', () => {
    const files = EXAMPLES.map(({ readme, runIn }) => join(distOf(runIn), `.readme-example-${readme}-${process.pid}.mts`));
    try {
      EXAMPLES.forEach(({ readme }, i) => writeFileSync(files[i]!, source(readme)));
      const program = ts.createProgram(files, {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        skipLibCheck: true,
        noEmit: true,
        types: ['node'],
      });
      const problems = ts.getPreEmitDiagnostics(program).map((d) => {
        const where = d.file ? `${d.file.fileName.replace(/.*readme-example-/, 'README ')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
        return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
      });
      expect(problems).toEqual([]);
    } finally {
      for (const f of files) rmSync(f, { force: true });
    }
  });

  for (const { readme, runIn, prints } of EXAMPLES) {
    it(`packages/${readme}/README.md runs and prints what it says`, () => {
      const dist = distOf(runIn);
      expect(existsSync(join(dist, 'index.js')), 'build first: npx tsc -b').toBe(true);
      const js = ts.transpileModule(source(readme), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
      const file = join(dist, `.readme-example-${readme}-${process.pid}.mjs`);
      writeFileSync(file, js);
      try {
        const r = spawnSync(process.execPath, ['--import', POLYFILL, file], { cwd: join(ROOT, 'packages', runIn), encoding: 'utf8', timeout: 60_000 });
        expect(r.stderr, 'stderr').toBe('');
        expect(r.status, r.stdout).toBe(0);
        for (const p of prints) expect(r.stdout).toMatch(p);
      } finally {
        rmSync(file, { force: true });
      }
    });
  }
});
