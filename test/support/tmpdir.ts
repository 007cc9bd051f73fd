// Every `new App()` in a test synthesizes into a fresh `cdk.out*` directory under the system
// temporary directory, with the staged handler binaries (about 50 MB a test). Nothing removes
// those, so each jest run used to leave gigabytes in /tmp. The run gets its own TMPDIR instead,
// removed at the end: workers are started after global set-up and inherit it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const KEY = 'CDK_ECR_DEPLOYMENT_TEST_TMPDIR';

export async function setup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-ecr-deployment-jest-'));
  process.env[KEY] = dir;
  process.env.TMPDIR = dir;
}

export async function teardown(): Promise<void> {
  const dir = process.env[KEY];
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
