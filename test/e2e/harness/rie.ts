// The Lambda Runtime Interface Emulator running the real handler binary: the exact
// lambda-bin/<arch>/bootstrap that ships in the package, with a Lambda-like environment.
// All of the emulator's and the handler's output goes to one log file, for the secret grep.
import * as fs from 'fs';
import * as path from 'path';
import { freePort, Proc, REPO_ROOT, waitForPort } from './proc';
import { httpRequest } from './registry-client';

export const RIE_BIN = path.join(REPO_ROOT, '.tools', 'bin', 'aws-lambda-rie');
export const BOOTSTRAP = path.join(REPO_ROOT, 'lambda-bin', 'amd64', 'bootstrap');

export interface RieOptions {
  /** The bootstrap to run; default the shipped amd64 build. */
  bootstrap?: string;
  /** The function timeout in seconds, as Lambda would enforce it (AWS_LAMBDA_FUNCTION_TIMEOUT). */
  timeoutSeconds: number;
  env: Record<string, string>;
  logFile: string;
}

export class Rie {
  public port = 0;
  private proc?: Proc;

  constructor(public readonly opts: RieOptions) {}

  get timeoutSeconds(): number { return this.opts.timeoutSeconds; }

  async start(): Promise<void> {
    // Free ports are picked, released, then bound by the emulator: with many emulators
    // starting at once another one can take a port in between. Pick again when that happens.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startOnce();
        return;
      } catch (e) {
        if (attempt >= 5 || !/address already in use/.test(String(e))) throw e;
        await this.proc?.stop();
      }
    }
  }

  private async startOnce(): Promise<void> {
    this.port = await freePort();
    const apiPort = await freePort();
    const bootstrap = this.opts.bootstrap ?? BOOTSTRAP;
    // Lambda gives the function only its own environment: start from nothing but PATH/HOME.
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      AWS_LAMBDA_FUNCTION_NAME: 'e2e-CustomCDKECRDeployment',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.opts.timeoutSeconds),
      ...this.opts.env,
    };
    this.proc = new Proc('rie', RIE_BIN, [
      '--runtime-interface-emulator-address', `127.0.0.1:${this.port}`,
      '--runtime-api-address', `127.0.0.1:${apiPort}`,
      bootstrap,
    ], this.opts.logFile, { env, cwd: path.dirname(bootstrap) });
    await waitForPort(this.port, 'aws-lambda-rie', this.proc);
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  /** Everything the emulator and the handler printed so far. */
  log(): string {
    try { return fs.readFileSync(this.opts.logFile, 'utf8'); } catch { return ''; }
  }

  /** Invokes the function synchronously; resolves with the invoke answer once the handler returns. */
  async invoke(event: unknown): Promise<{ status: number; body: string }> {
    const res = await httpRequest(`http://127.0.0.1:${this.port}/2015-03-31/functions/function/invocations`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(event),
    });
    return { status: res.status, body: res.body.toString() };
  }
}
