// Blob bytes moved during one copy, from the registries' access logs (combined log format, which
// docker-registry writes for every request): bytes read are the response bodies of blob GETs;
// bytes written are the sizes of the blobs whose upload was committed (PUT ...?digest=D, 201).
// (The access log has no request body sizes; a committed upload of D stored exactly size(D).)
import * as fs from 'fs';

export interface Traffic {
  /** Blob bytes served by blob GETs (status 200). */
  read: number;
  /** Blob bytes committed by uploads (PUT ?digest=, status 201). */
  written: number;
  /** Blob upload requests (POST without mount=, PATCH, PUT) */
  uploadRequests: number;
  /** Cross-repository mounts answered 201. */
  mounts: number;
}

/** A position in a log file, to read what is appended after it. */
export function logOffset(file: string): number {
  try { return fs.statSync(file).size; } catch { return 0; }
}

const LINE = /"([A-Z]+) (\/\S*) HTTP\/[\d.]+" (\d{3}) (\d+|-) /;

/** Adds the blob traffic in `file` after `offset` to `t`; `sizes` maps blob digests to sizes. */
export function addTraffic(t: Traffic, file: string, offset: number, sizes: Record<string, number>): Traffic {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8').slice(offset); } catch { return t; }
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, method, uri, statusText, sizeText] = m;
    const status = Number(statusText);
    const [p, query = ''] = uri.split('?', 2);
    const q = new URLSearchParams(query);
    if (method === 'GET' && /\/blobs\/sha256:/.test(p) && status === 200) {
      t.read += sizeText === '-' ? 0 : Number(sizeText);
    } else if (/\/blobs\/uploads\//.test(p)) {
      if (method === 'POST' && q.get('mount')) {
        if (status === 201) t.mounts++;
      } else if (['POST', 'PATCH', 'PUT'].includes(method)) {
        t.uploadRequests++;
        const d = q.get('digest');
        if (method === 'PUT' && d && status === 201) t.written += sizes[d] ?? NaN;
      }
    }
  }
  return t;
}

export function noTraffic(): Traffic {
  return { read: 0, written: 0, uploadRequests: 0, mounts: 0 };
}
