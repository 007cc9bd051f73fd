// CloudFormation sends sequences, not single events. One jest test per row of the lifecycle
// model (harness/lifecycle.ts): a sequence S1–S7 × RemovalPolicy × registry kind × whether the
// destination tags existed before. After every step the whole tag→digest map of every
// repository involved must be what the spec says, and so must Status, PhysicalResourceId,
// Reason and Data. E2E_LIFECYCLE_REPORT=FILE writes every row's steps as markdown.
import * as fs from 'fs';
import { expectNoLeaks } from './harness/expect';
import { formatRow, Kind, LifecycleWorld, rows, RowResult, runRow } from './harness/lifecycle';

const report = process.env.E2E_LIFECYCLE_REPORT;
if (report) fs.writeFileSync(report, `# Lifecycle model, ${new Date().toISOString()}\n\n`);

const results: RowResult[] = [];

for (const kind of ['ecr', 'open'] as Kind[]) {
  describe(`${kind} registry`, () => {
    let lw: LifecycleWorld;

    beforeAll(async () => {
      lw = await new LifecycleWorld(kind).start();
    }, 240_000);

    afterAll(async () => {
      await lw?.stop();
    });

    for (const row of rows(kind)) {
      test(row.name, async () => {
        const res = await runRow(lw, row);
        results.push(res);
        if (report) fs.appendFileSync(report, formatRow(res) + '\n');
        // All problems of the row at once, each naming its step, after the whole sequence ran.
        expect(res.problems).toEqual([]);
      }, 300_000);
    }

    test(`${kind}: no secret in any handler output or response`, () => {
      expectNoLeaks(lw.w);
      if (kind === 'ecr') expect(lw.mirror!.mirrored).toBeGreaterThan(0);
    });
  });
}

afterAll(() => {
  if (!report) return;
  const failed = results.filter(r => r.problems.length);
  fs.appendFileSync(report, `\n${results.length} rows, ${failed.length} failing, ${results.reduce((a, r) => a + r.seconds, 0).toFixed(0)} s in rows\n`);
});
