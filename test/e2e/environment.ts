// The e2e test environment: Node's, plus one check once a suite has finished (after its own
// afterAll hooks): every server and child process the harness opened (test/e2e/harness/handles.ts)
// must be closed by then. Anything left open fails the suite, named, and is then closed here so
// that jest can still exit; this is why the e2e task runs without --forceExit.
import type { Circus } from '@jest/types';
// jest's own default environment, installed with jest (the same version jest runs).
// eslint-disable-next-line import/no-extraneous-dependencies
import NodeEnvironment from 'jest-environment-node';

export default class E2eEnvironment extends NodeEnvironment {
  async handleTestEvent(event: Circus.Event, state: Circus.State): Promise<void> {
    if (event.name !== 'run_finish') return;
    const open = (this.global as unknown as Record<string, Map<object, { what: string; close: () => void }> | undefined>).__e2eOpenHandles;
    const left = open ? [...open.values()] : [];
    if (left.length === 0) return;
    state.unhandledErrors.push(new Error(`the suite left ${left.length} handle(s) open: ${left.map(h => h.what).join('; ')}`));
    for (const h of left) {
      try { h.close(); } catch { /* already closing */ }
    }
  }
}
