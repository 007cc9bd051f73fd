// Builds the handler before any scenario runs, so the suites always test the current
// lambda-bin/amd64/bootstrap (the file that ships). Go's build cache makes this about a
// second when nothing changed. E2E_SKIP_BUILD=1 tests whatever binary is already there.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export default function globalSetup(): void {
  const root = path.resolve(__dirname, '..', '..');
  // The harness (proxy.ts) and the synthesized apps read the rulebook through src/rules.ts.
  execFileSync('node', [path.join(root, 'scripts', 'rules-ts.js')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!process.env.E2E_SKIP_BUILD) {
    execFileSync('bash', [path.join(root, 'lambda', 'build.sh')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const bootstrap = path.join(root, 'lambda-bin', 'amd64', 'bootstrap');
  const head = fs.existsSync(bootstrap) ? fs.readFileSync(bootstrap).subarray(0, 4) : Buffer.alloc(0);
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    throw new Error(`${bootstrap} is not a built handler (ELF); run 'bash lambda/build.sh'`);
  }
  for (const tool of [path.join(root, '.tools', 'bin', 'aws-lambda-rie'), path.join(root, '.venv', 'bin', 'moto_server')]) {
    if (!fs.existsSync(tool)) throw new Error(`${tool} is missing; run 'bash scripts/setup.sh'`);
  }
}
