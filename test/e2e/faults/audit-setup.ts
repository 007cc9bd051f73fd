// The secret grep for every e2e suite, not only the fault suites: loaded as a jest
// `setupFilesAfterEnv` file, it wraps World.stop() so that, just before a World's folder is
// removed, every log file in it (handler/RIE logs, registries, moto, proxies) and every response
// sent to the ResponseURL is searched with `findLeaks` (passwords, tokens, secret values, the
// ECR token, Authorization headers, JWTs, ResponseURL signatures). A hit fails the suite's
// afterAll. With E2E_AUDIT_REPORT=FILE, one JSON line per World is appended there
// (suite, files, lines, leaks).
//
// Use: `npx jest --config test/e2e/jest.config.json --setupFilesAfterEnv ./test/e2e/faults/audit-setup.ts`,
// or add it to the config's "setupFilesAfterEnv".
import * as fs from 'fs';
import * as path from 'path';
import { findLeaks, logFiles } from '../harness/leaks';
import { World } from '../harness/world';

const stop = World.prototype.stop;

World.prototype.stop = async function audited(this: World): Promise<void> {
  let leaks: string[] = [];
  let files: string[] = [];
  if (this.receiver && fs.existsSync(this.dir)) {
    files = logFiles(this.dir);
    leaks = findLeaks(this, files);
  }
  const lines = files.reduce((n, f) => n + fs.readFileSync(f, 'utf8').split('\n').length, 0);
  await stop.call(this);
  if (process.env.E2E_AUDIT_REPORT) {
    const suite = path.relative(path.resolve(__dirname, '..', '..', '..'), expect.getState().testPath ?? '');
    fs.appendFileSync(process.env.E2E_AUDIT_REPORT, JSON.stringify({ suite, files: files.length, lines, leaks }) + '\n');
  }
  if (leaks.length > 0) throw new Error(`secrets found in the e2e logs: ${leaks.join('; ')}`);
};
