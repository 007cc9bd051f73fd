import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The published upstream release the drop-in promise is measured against. */
export const UPSTREAM_VERSION = '4.2.65';

/**
 * Packs the published upstream package into a scratch folder inside the repository (never a
 * dependency of the library) and returns its module. It lives under the repository so that
 * `aws-cdk-lib` and `constructs` resolve to the same copies our construct uses.
 */
export function loadUpstream(): any {
  const root = path.resolve(__dirname, '..');
  const dir = path.join(root, '.tools', `upstream-${UPSTREAM_VERSION}`);
  const pkg = path.join(dir, 'package');
  if (!fs.existsSync(path.join(pkg, 'lib', 'index.js'))) {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('npm', ['pack', `cdk-ecr-deployment@${UPSTREAM_VERSION}`, '--silent'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    execFileSync('tar', ['xzf', `cdk-ecr-deployment-${UPSTREAM_VERSION}.tgz`], { cwd: dir });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(pkg, 'lib', 'index.js'));
}
