// A TLS-terminating reverse proxy in front of one real registry that breaks chosen requests on
// purpose. Rules match on method and URL path; each rule can be limited to its first N matches
// and counts its hits. Faults: an HTTP status (429 with Retry-After, 503 bursts), a rate limit
// (429 above N requests per second, as ECR limits PutImage), a TCP reset in the middle of a
// response body (blob download) or of a request body (blob upload), a response dribbled at a
// few KiB/s, a response that stalls forever after its headers, a response whose bytes are
// altered (a blob that no longer matches its digest), a reset before any answer, and a 307 to a
// presigned-looking URL (as ECR does for blobs), and immutable tags (ECR's 400 TAG_INVALID for
// a manifest PUT to a tag that already exists). Gauges count requests in flight, e.g.
// concurrent manifest PUTs per repository. `startTunnel` is the HTTPS_PROXY that leads the
// handler to it by the registry's real name, passing resets on as resets.
//
// The proxy serves the harness's server certificate, so clients see the same names as for the
// registry itself (127.0.0.1, localhost, the ECR-style host). The Host header is passed through,
// so upload Location URLs the registry builds point back at the proxy. Nothing it logs contains
// a header: Authorization values never reach its event log.
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import { PassThrough } from 'stream';
import * as tls from 'tls';

export type Fault =
  /** Answer with this status (e.g. 429 + Retry-After, 503) without asking the registry. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** 429 TOOMANYREQUESTS with Retry-After: 1 once more than `perSecond` matching requests started in the last second. */
  | { kind: 'rate-limit'; perSecond: number }
  /** Forward, send the headers and `afterBytes` of the body, then reset the TCP connection. */
  | { kind: 'reset-download'; afterBytes: number }
  /**
   * Hold the request body back; once `afterBytes` of it arrived, reset the TCP connection
   * (nothing is forwarded). Shorter bodies (a small config blob) pass whole and do not count
   * as hits; `times` counts cut uploads only, so concurrent uploads cannot use it up.
   */
  | { kind: 'reset-upload'; afterBytes: number }
  /** Forward, then send the body at `bytesPerSecond`. */
  | { kind: 'trickle'; bytesPerSecond: number }
  /** Forward the headers, then never send a byte of the body (until the client or the proxy closes). */
  | { kind: 'stall' }
  /** Forward with the body altered (same length, one byte in the middle flipped). */
  | { kind: 'corrupt' }
  /** Reset the TCP connection as soon as the request arrives: no status, no byte. */
  | { kind: 'reset' }
  /**
   * 307 to `/__redirected<path>?<query>` on the proxy itself, as ECR redirects blob GETs to
   * presigned S3 URLs; the proxy serves that path from the registry (query dropped), and rules
   * can match it too.
   */
  | { kind: 'redirect'; query: string }
  /**
   * Immutable tags, as an ECR repository with `imageTagMutability: IMMUTABLE` behaves: a
   * manifest PUT by tag (not by digest) to a tag the registry already holds gets ECR's
   * `400 TAG_INVALID` ("... cannot be overwritten because the repository is immutable"),
   * whatever the manifest; a PUT to a new tag, or by digest, is forwarded, and other methods
   * go on to the next rule. Only refused PUTs count as hits; `times` does not apply.
   */
  | { kind: 'immutable-tags' };

export interface FaultRule {
  /** Shown in the event log. */
  name: string;
  /** HTTP method(s) to match; any when absent. */
  method?: string | string[];
  /** Matched against the URL path, without the query. */
  path: RegExp;
  /** Only the first `times` matching requests get the fault; later ones pass. Default: all. */
  times?: number;
  fault: Fault;
}

export interface RuleHandle {
  readonly rule: FaultRule;
  /** Requests that matched and got the fault. */
  readonly hits: number;
  /** For rate-limit rules: requests let through. */
  readonly passed: number;
  remove(): void;
}

export interface Gauge {
  /** Requests in flight right now, and the most seen at once. */
  readonly current: number;
  readonly max: number;
  readonly total: number;
  /** The most in flight at once per key (e.g. per repository). */
  readonly maxByKey: Map<string, number>;
  reset(): void;
}

export interface ProxyEvent {
  /** When the event was recorded: the answer sent (or the fault applied). */
  at: number;
  /** When the request arrived at the proxy (its headers were read). */
  started: number;
  method: string;
  path: string;
  /** Status sent to the client; 0 when the connection was reset or stalled before a status. */
  status: number;
  rule?: string;
}

export interface FaultProxy {
  readonly port: number;
  /** `127.0.0.1:PORT`, the registry part of an image reference through the proxy. */
  readonly host: string;
  /** Every request seen, in order of completion (or of the fault). */
  readonly events: ProxyEvent[];
  rule(rule: FaultRule): RuleHandle;
  /** Removes every rule (gauges stay). */
  clearRules(): void;
  /** Counts requests forwarded to the registry and still in flight that match method + path; `key` groups them (default: the repository). */
  gauge(method: string, path: RegExp, key?: (path: string) => string): Gauge;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The registry's port on 127.0.0.1 (asked per request, so a restarted registry is followed). */
  upstreamPort: () => number;
  /** CA that signed the registry's certificate. */
  caFile: string;
  /** Certificate and key the proxy serves. */
  certFile: string;
  keyFile: string;
  /** Appends one line per event here (method, path, status, rule; never headers). */
  logFile?: string;
  /** Address to listen on (default 127.0.0.1), e.g. the address a host name resolves to. */
  listenHost?: string;
  /**
   * The name the registry's certificate is checked against (default: the client's Host
   * header). Set it (e.g. to `localhost`) when the proxy serves a name the registry's own
   * certificate does not carry.
   */
  upstreamName?: string;
}

/** `/v2/<repo>/(manifests|blobs|tags)/...` gives `<repo>`. */
export function repoOf(p: string): string {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(p);
  return m ? m[1] : '';
}

/** Path prefix of the proxy's stand-in for presigned blob URLs (see the `redirect` fault). */
export const REDIRECTED = '/__redirected';

/** Every manifest type, for the immutable-tags check (a HEAD must find a tag of any type). */
const IMMUTABLE_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'transfer-encoding'];

function stripHopByHop(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.includes(k)) out[k] = v;
  return out;
}

interface RuleState { rule: FaultRule; hits: number; passed: number; window: number[] }

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const secureContext = tls.createSecureContext({ cert: fs.readFileSync(opts.certFile), key: fs.readFileSync(opts.keyFile) });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: fs.readFileSync(opts.caFile) });
  const rules: RuleState[] = [];
  const gauges: {
    method: string;
    path: RegExp;
    key: (p: string) => string;
    current: number;
    max: number;
    total: number;
    byKey: Map<string, number>;
    maxByKey: Map<string, number>;
  }[] = [];
  const events: ProxyEvent[] = [];
  const rawSockets = new Set<net.Socket>();
  const rawOf = new WeakMap<net.Socket, net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const record = (e: Omit<ProxyEvent, 'at'>) => {
    const ev = { at: Date.now(), ...e };
    events.push(ev);
    if (opts.logFile) fs.appendFileSync(opts.logFile, `${new Date(ev.at).toISOString()} ${ev.method} ${ev.path} ${ev.status}${ev.rule ? ` [${ev.rule}]` : ''}\n`);
  };

  /** A real TCP reset (RST), not a clean close: what a dropped connection looks like. */
  const reset = (tlsSocket: net.Socket) => {
    const raw = rawOf.get(tlsSocket);
    try {
      if (raw && !raw.destroyed) raw.resetAndDestroy();
    } catch { raw?.destroy(); }
    tlsSocket.destroy();
  };

  const match = (req: http.IncomingMessage, p: string): RuleState | undefined => {
    for (const s of rules) {
      const m = s.rule.method;
      if (m !== undefined && ![m].flat().includes(req.method ?? '')) continue;
      if (!s.rule.path.test(p)) continue;
      // Immutable tags concern manifest PUTs only: other requests go on to the next rule.
      if (s.rule.fault.kind === 'immutable-tags' && req.method !== 'PUT') continue;
      // These decide per request whether the fault applies (a rate, a body long enough to cut,
      // a tag that exists).
      if (s.rule.fault.kind === 'rate-limit' || s.rule.fault.kind === 'reset-upload' || s.rule.fault.kind === 'immutable-tags') return s;
      if (s.rule.times !== undefined && s.hits >= s.rule.times) continue;
      return s;
    }
    return undefined;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = Date.now();
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    const method = req.method ?? 'GET';
    const state = match(req, p);
    let fault = state?.rule.fault;
    if (state && fault?.kind === 'rate-limit') {
      const now = Date.now();
      state.window = state.window.filter(t => now - t < 1000);
      if (state.window.length >= fault.perSecond) {
        state.hits++;
        fault = { kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'Rate exceeded' }] }) };
      } else {
        state.window.push(now);
        state.passed++;
        fault = undefined;
      }
    } else if (state && fault?.kind !== 'reset-upload' && fault?.kind !== 'immutable-tags') {
      state.hits++;
    }
    const ruleName = fault ? state?.rule.name : undefined;

    if (fault?.kind === 'reset') {
      record({ started, method, path: p, status: 0, rule: ruleName });
      reset(req.socket);
      return;
    }
    if (fault?.kind === 'redirect') {
      const location = `https://${req.headers.host}${REDIRECTED}${p}?${fault.query}`;
      req.resume();
      res.writeHead(307, { 'Location': location, 'Content-Length': 0 });
      res.end();
      record({ started, method, path: p, status: 307, rule: ruleName });
      return;
    }
    if (fault?.kind === 'status') {
      const f = fault;
      req.resume();
      req.once('end', () => {
        const body = f.body ?? JSON.stringify({ errors: [{ code: f.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: `injected ${f.status}` }] });
        res.writeHead(f.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...f.headers });
        res.end(body);
        record({ started, method, path: p, status: f.status, rule: ruleName });
      });
      return;
    }
    const forward = (reqBody: NodeJS.ReadableStream): void => {
      // Gauges count what reaches the registry, not what a fault answered.
      for (const g of gauges) {
        if (g.method !== method || !g.path.test(p)) continue;
        const k = g.key(p);
        g.current++; g.total++; g.max = Math.max(g.max, g.current);
        const n = (g.byKey.get(k) ?? 0) + 1;
        g.byKey.set(k, n);
        g.maxByKey.set(k, Math.max(g.maxByKey.get(k) ?? 0, n));
        res.once('close', () => { g.current--; g.byKey.set(k, (g.byKey.get(k) ?? 1) - 1); });
      }
      const upReq = https.request({
        host: '127.0.0.1',
        port: opts.upstreamPort(),
        method,
        agent,
        ...(opts.upstreamName ? { servername: opts.upstreamName } : {}),
        path: p.startsWith(REDIRECTED) ? p.slice(REDIRECTED.length) : req.url,
        headers: stripHopByHop(req.headers),
      }, upRes => {
        const status = upRes.statusCode ?? 502;
        const headers = stripHopByHop(upRes.headers);
        // Faults that alter bodies apply to successful body-carrying answers only (not to a 401
        // challenge or a HEAD), so the client gets as far as reading a blob.
        const bodyFault = fault && method === 'GET' && status >= 200 && status < 300 ? fault : undefined;
        if (!bodyFault) {
          res.writeHead(status, headers);
          upRes.pipe(res);
          upRes.once('end', () => record({ started, method, path: p, status }));
          return;
        }
        switch (bodyFault.kind) {
          case 'reset-download': {
            const limit = bodyFault.afterBytes;
            let sent = 0;
            res.writeHead(status, headers);
            upRes.on('data', (c: Buffer) => {
              if (sent >= limit) return;
              const part = c.subarray(0, limit - sent);
              sent += part.length;
              if (sent >= limit) {
                upRes.destroy();
                res.write(part, () => { record({ started, method, path: p, status: 0, rule: ruleName }); reset(req.socket); });
              } else {
                res.write(part);
              }
            });
            upRes.once('end', () => {
              // A body shorter than the cut passes whole.
              if (sent < limit) { res.end(); record({ started, method, path: p, status, rule: `${ruleName} (body shorter than the cut)` }); }
            });
            break;
          }
          case 'stall':
            res.writeHead(status, headers);
            res.flushHeaders();
            upRes.destroy();
            record({ started, method, path: p, status: 0, rule: ruleName });
            break;
          case 'corrupt':
          case 'trickle': {
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.once('end', () => {
              const body = Buffer.concat(chunks);
              res.writeHead(status, headers);
              if (bodyFault.kind === 'corrupt') {
                // Flip every bit of the middle byte: same length, different digest.
                if (body.length > 0) body[Math.floor(body.length / 2)] = 255 - body[Math.floor(body.length / 2)];
                res.end(body);
                record({ started, method, path: p, status, rule: ruleName });
                return;
              }
              const step = Math.max(1, Math.floor(bodyFault.bytesPerSecond / 10));
              let off = 0;
              const t = setInterval(() => {
                if (res.destroyed || closed) { clearInterval(t); timers.delete(t); return; }
                res.write(body.subarray(off, off + step));
                off += step;
                if (off >= body.length) {
                  clearInterval(t); timers.delete(t);
                  res.end();
                  record({ started, method, path: p, status, rule: ruleName });
                }
              }, 100);
              timers.add(t);
            });
            break;
          }
          default:
            res.writeHead(status, headers);
            upRes.pipe(res);
        }
      });
      upReq.on('error', err => {
        record({ started, method, path: p, status: 502, rule: `upstream error: ${err.message}` });
        if (!res.headersSent) {
          res.writeHead(502, { 'Content-Type': 'text/plain' });
          res.end('fault proxy: upstream error\n');
        } else {
          res.destroy();
        }
      });
      reqBody.pipe(upReq);
    };

    if (fault?.kind === 'immutable-tags') {
      const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p);
      const rs = state!;
      if (!m || /^[a-z0-9]+:[a-f0-9]{32,}$/.test(m[2])) {
        fault = undefined;
        forward(req);
        return;
      }
      const [, repo, tag] = m;
      // Hold the (small) manifest back while the registry is asked whether the tag exists, with
      // the client's own credentials; a 401 (no credentials yet) is left to the registry to answer.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => {
        const head = https.request({
          host: '127.0.0.1',
          port: opts.upstreamPort(),
          method: 'HEAD',
          agent,
          ...(opts.upstreamName ? { servername: opts.upstreamName } : {}),
          path: `/v2/${repo}/manifests/${tag}`,
          headers: { ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), accept: IMMUTABLE_ACCEPT, host: req.headers.host ?? '' },
        }, headRes => {
          headRes.resume();
          if (headRes.statusCode === 200) {
            rs.hits++;
            const body = JSON.stringify({ errors: [{ code: 'TAG_INVALID', message: `The image tag '${tag}' already exists in the '${repo}' repository and cannot be overwritten because the repository is immutable.` }] });
            res.writeHead(400, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
            res.end(body);
            record({ started, method, path: p, status: 400, rule: ruleName });
            return;
          }
          fault = undefined;
          const pass = new PassThrough();
          forward(pass);
          pass.end(Buffer.concat(chunks));
        });
        head.on('error', err => {
          record({ started, method, path: p, status: 502, rule: `immutable-tags check failed: ${err.message}` });
          res.writeHead(502, { 'Content-Type': 'text/plain' });
          res.end('fault proxy: upstream error\n');
        });
        head.end();
      });
      return;
    }
    if (fault?.kind === 'reset-upload') {
      // The body is held back until `afterBytes` arrived; then, while the rule has hits left,
      // the connection is reset. A body that ends sooner (e.g. a small config blob), or one
      // that arrives once the rule is used up, is forwarded whole and does not count.
      const f = fault;
      const rs = state!;
      const chunks: Buffer[] = [];
      let got = 0;
      let decided = false;
      const pass = new PassThrough();
      const passOn = () => {
        fault = undefined;
        pass.write(Buffer.concat(chunks));
        forward(pass);
      };
      const onData = (c: Buffer) => {
        if (decided) return;
        chunks.push(c);
        got += c.length;
        if (got < f.afterBytes) return;
        decided = true;
        if (rs.rule.times === undefined || rs.hits < rs.rule.times) {
          rs.hits++;
          record({ started, method, path: p, status: 0, rule: ruleName });
          reset(req.socket);
          return;
        }
        req.off('data', onData);
        passOn();
        req.pipe(pass);
      };
      req.on('data', onData);
      req.once('end', () => {
        if (decided) return;
        decided = true;
        passOn();
        pass.end();
      });
      return;
    }
    forward(req);
  };

  const httpServer = http.createServer(handler);
  httpServer.keepAliveTimeout = 30_000;
  const server = net.createServer(raw => {
    rawSockets.add(raw);
    raw.on('close', () => rawSockets.delete(raw));
    raw.on('error', () => undefined);
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext });
    rawOf.set(t, raw);
    t.on('error', () => raw.destroy());
    httpServer.emit('connection', t);
  });
  const listenHost = opts.listenHost ?? '127.0.0.1';
  await new Promise<void>(r => server.listen(0, listenHost, () => r()));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    host: `${listenHost}:${port}`,
    events,
    rule(rule: FaultRule): RuleHandle {
      const s: RuleState = { rule, hits: 0, passed: 0, window: [] };
      rules.push(s);
      return {
        rule,
        get hits() { return s.hits; },
        get passed() { return s.passed; },
        remove() { const i = rules.indexOf(s); if (i >= 0) rules.splice(i, 1); },
      };
    },
    clearRules() { rules.length = 0; },
    gauge(method: string, path: RegExp, key: (p: string) => string = repoOf): Gauge {
      const g = { method, path, key, current: 0, max: 0, total: 0, byKey: new Map<string, number>(), maxByKey: new Map<string, number>() };
      gauges.push(g);
      return {
        get current() { return g.current; },
        get max() { return g.max; },
        get total() { return g.total; },
        get maxByKey() { return g.maxByKey; },
        reset() { g.max = g.current; g.total = 0; g.maxByKey.clear(); },
      };
    },
    close: () => new Promise(r => {
      closed = true;
      for (const t of timers) clearInterval(t);
      for (const s of rawSockets) s.destroy();
      agent.destroy();
      server.close(() => r());
    }),
  };
}

export interface Tunnel {
  readonly port: number;
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY. */
  readonly url: string;
  /** Every CONNECT target asked for. */
  readonly connects: string[];
  close(): Promise<void>;
}

/**
 * An HTTPS_PROXY (CONNECT only) whose tunnels go to 127.0.0.1:`route(host, port)`; targets it
 * cannot route are refused with 403. Once a tunnel is up it is a plain pipe both ways, and a
 * reset on one side is passed on as a reset to the other (never as an HTTP answer written into
 * the TLS stream), so the handler sees exactly what the fault proxy did.
 */
export async function startTunnel(route: (host: string, port: number) => number | undefined): Promise<Tunnel> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); };
  const server = http.createServer((_req, res) => { res.writeHead(405); res.end(); });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    track(client);
    const i = target.lastIndexOf(':');
    const to = route(target.slice(0, i), Number(target.slice(i + 1)));
    if (to === undefined) {
      client.on('error', () => undefined);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(to, '127.0.0.1');
    track(upstream);
    let established = false;
    const abort = (s: net.Socket) => { try { s.resetAndDestroy(); } catch { s.destroy(); } };
    upstream.once('connect', () => {
      established = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      if (established) abort(client);
      else client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    client.on('error', () => abort(upstream));
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connects,
    close: () => new Promise(r => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
