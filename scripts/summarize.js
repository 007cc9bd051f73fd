#!/usr/bin/env node
// Adds up the results every test runner left in the reports folder and prints one
// `N passed, N failed` line. Skipped tests count as failed: a skipped test proves nothing.
// Usage: node scripts/summarize.js REPORTS_DIR [STEP_STATUS_FILE]
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const stepsFile = process.argv[3];
let passed = 0;
let failed = 0;
const lines = [];

function count(source, p, f) {
  passed += p;
  failed += f;
  lines.push(`  ${source}: ${p} passed, ${f} failed`);
}

// JUnit XML (jest-junit, pytest): one <testcase> per test; a failure, error or skipped child fails it.
function junit(file) {
  const xml = fs.readFileSync(file, 'utf8');
  const cases = xml.match(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g) || [];
  let f = 0;
  for (const c of cases) {
    if (/^<testcase\b[^>]*\/>$/.test(c)) continue;
    if (/<(failure|error|skipped)\b/.test(c)) f++;
  }
  count(path.basename(file), cases.length - f, f);
}

// `go test -json`: pass/fail/skip events per test (subtests included).
function goJson(file) {
  let p = 0;
  let f = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let ev;
    try { ev = JSON.parse(line); } catch { continue; }
    if (!ev.Test) {
      // A package that fails to build or panics outside a test has no per-test events.
      if (ev.Action === 'fail' && ev.Package) f++;
      continue;
    }
    if (ev.Action === 'pass') p++;
    if (ev.Action === 'fail' || ev.Action === 'skip') f++;
  }
  count(path.basename(file), p, f);
}

if (fs.existsSync(dir)) {
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (name.endsWith('.xml')) junit(file);
    else if (name.endsWith('.gojson')) goJson(file);
  }
}

// Steps that are not test runners (build, vet, lint, integ snapshots, audits) count as one test each.
if (stepsFile && fs.existsSync(stepsFile)) {
  for (const line of fs.readFileSync(stepsFile, 'utf8').split('\n').filter(Boolean)) {
    const [status, ...name] = line.split(' ');
    count(`step ${name.join(' ')}`, status === 'ok' ? 1 : 0, status === 'ok' ? 0 : 1);
  }
}

console.log(lines.join('\n'));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
