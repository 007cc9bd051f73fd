// Logs outlive the run: every World's log files (handler and RIE, registries, moto, proxies) are
// copied under test-reports/e2e/<suite>/ before the World's folder is removed, so that a failure
// seen only in a whole run (one suite starving a later one) can be read afterwards. Suites end
// with a snapshot of the machine (processes, load) next to their logs for the same reason.
// scripts/test.sh empties test-reports/ when a run starts, so what is there is this run's.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { logFiles } from './leaks';
import { REPO_ROOT } from './proc';

export const REPORTS_DIR = path.join(REPO_ROOT, 'test-reports', 'e2e');

/** A suite's path below test/e2e without its suffix (e.g. faults/load); by default the running suite's, or 'outside-jest'. */
export function suiteName(testPath?: string): string {
  const file = testPath ?? (typeof expect === 'undefined' ? undefined : expect.getState().testPath);
  if (!file) return 'outside-jest';
  return path.relative(path.join(REPO_ROOT, 'test', 'e2e'), file).replace(/\.e2e\.ts$/, '');
}

/** Where keepLogs(dir) puts dir's logs: test-reports/e2e/<suite>/<dir's own name>. */
export function keptLogsDir(dir: string): string {
  return path.join(REPORTS_DIR, suiteName(), path.basename(dir));
}

/**
 * Copies every *.log file under dir into keptLogsDir(dir), keeping the paths below dir (dir
 * is a fresh temp folder, so its name is unique). Returns the folder written, or undefined
 * when there was nothing to keep.
 */
export function keepLogs(dir: string): string | undefined {
  const files = logFiles(dir);
  if (files.length === 0) return undefined;
  const out = keptLogsDir(dir);
  for (const f of files) {
    const to = path.join(out, path.relative(dir, f));
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(f, to);
  }
  return out;
}

/**
 * Writes what the machine was doing when a suite ended: the processes still running (a server
 * or handler that outlived its suite shows here) and the load averages. Best effort: a missing
 * `ps` leaves a note instead.
 */
export function snapshotMachine(testPath: string, when: string): void {
  const out = path.join(REPORTS_DIR, suiteName(testPath));
  fs.mkdirSync(out, { recursive: true });
  let ps: string;
  try {
    ps = execFileSync('ps', ['-eo', 'pid,ppid,pgid,etimes,time,rss,args', '--sort=-time'], { encoding: 'utf8' });
  } catch (e) {
    ps = `ps failed: ${String(e)}\n`;
  }
  let load = '';
  try { load = fs.readFileSync('/proc/loadavg', 'utf8'); } catch { /* not Linux */ }
  fs.writeFileSync(path.join(out, `machine-${when}.txt`), `${new Date().toISOString()} loadavg ${load}\n${ps}`);
}
