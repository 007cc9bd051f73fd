// The secret grep, for every e2e suite (faults/audit-setup.ts runs it on every World's logs
// before the World's folder is removed, and suites call it directly after a step).
import * as fs from 'fs';
import * as path from 'path';
import { DUMMY_AWS } from './moto';

/** What the grep needs to know of a World: the recorded secrets and the responses sent to CloudFormation. */
export interface SecretSource {
  readonly secrets: Set<string>;
  readonly receiver: { readonly responses: Map<string, unknown>; readonly signatures: string[] };
}

export function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** Every *.log file under dir: handler (RIE) logs, registries, moto, proxies. */
export function logFiles(dir: string): string[] {
  return walk(dir).filter(f => f.endsWith('.log') && fs.statSync(f).isFile());
}

/**
 * Looks in every given log file and in every response sent to the ResponseURL for: each
 * recorded password and secret value (raw, URL-encoded, base64; Basic-auth forms included), the
 * ECR token, the dummy AWS secret key, each ResponseURL signature, and, by pattern, any
 * Authorization header value, any JWT (bearer tokens from the token server) and any unredacted
 * X-Amz-Signature. Returns a short description of each hit.
 */
export function findLeaks(w: SecretSource, files: string[], extraSecrets: string[] = []): string[] {
  const haystacks = files.map(f => ({ name: path.basename(f), text: fs.readFileSync(f, 'utf8') }));
  haystacks.push({ name: 'responses', text: JSON.stringify([...w.receiver.responses.values()]) });
  const needles = [...w.secrets, ...w.receiver.signatures, DUMMY_AWS.AWS_SECRET_ACCESS_KEY, ...extraSecrets];
  const found: string[] = [];
  for (const n of needles) {
    const variants = [n, encodeURIComponent(n), Buffer.from(n).toString('base64')];
    for (const h of haystacks) {
      if (variants.some(v => h.text.includes(v))) found.push(`${n.slice(0, 6)}… in ${h.name}`);
    }
  }
  const patterns: [string, RegExp][] = [
    ['Authorization header', /authorization["']?\s*[:=]\s*["']?(basic|bearer)\s+(?!REDACTED)[A-Za-z0-9+/=._~-]{8,}/i],
    ['JWT', /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/],
    ['X-Amz-Signature', /x-amz-signature=(?!REDACTED)[0-9a-f]{16,}/i],
  ];
  for (const h of haystacks) {
    for (const [what, re] of patterns) if (re.test(h.text)) found.push(`${what} in ${h.name}`);
  }
  return found;
}
