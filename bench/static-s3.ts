// A minimal S3 stand-in for ranged reads: path-style HEAD and GET (with Range) of files under a
// folder, no authentication. moto re-reads the whole object for every ranged GET, so with
// archives of hundreds of MB moto's own cost dominates; this server streams the requested range
// from the file, which shows what the copiers themselves cost on an S3 source.
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';

export interface StaticS3 {
  endpoint: string;
  /** GET requests served, and bytes sent. */
  stats: { heads: number; gets: number; bytes: number };
  close(): Promise<void>;
}

export async function startStaticS3(root: string): Promise<StaticS3> {
  fs.mkdirSync(root, { recursive: true });
  const stats = { heads: 0, gets: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const file = path.join(root, rel);
    let st: fs.Stats | undefined;
    try { st = file.startsWith(root + path.sep) ? fs.statSync(file) : undefined; } catch { st = undefined; }
    if (!st || !st.isFile()) {
      res.writeHead(404, { 'Content-Type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'Accept-Ranges': 'bytes',
      'ETag': `"${st.size.toString(16)}-${st.mtimeMs.toString(16)}"`,
      'Last-Modified': st.mtime.toUTCString(),
      'Content-Type': 'application/x-tar',
    };
    if (req.method === 'HEAD') {
      stats.heads++;
      res.writeHead(200, { ...headers, 'Content-Length': st.size });
      res.end();
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405);
      res.end();
      return;
    }
    stats.gets++;
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const m = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (m) {
      if (m[1] === '') {
        start = Math.max(0, st.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${st.size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    res.writeHead(status, { ...headers, 'Content-Length': end - start + 1 });
    stats.bytes += end - start + 1;
    const stream = fs.createReadStream(file, { start, end, highWaterMark: 1024 * 1024 });
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise(r => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
