// A TLS-terminating reverse proxy in front of one real registry that breaks chosen requests on
// purpose. Rules match on method and URL path; each rule can be limited to its first N matches
// and counts its hits. Faults: an HTTP status (429 with Retry-After, 503 bursts), a rate limit
// (429 above N requests per second, as ECR limits PutImage), a TCP reset in the middle of a
// response body (blob download) or of a request body (blob upload), a response dribbled at a
// few KiB/s, a response that stalls forever after its headers, a response whose bytes are
// altered (a blob that no longer matches its digest), a reset before any answer, and a 307 to a
// presigned-looking URL (as ECR does for blobs), and immutable tags (ECR's 400 TAG_INVALID for
// a manifest PUT to a tag that already exists). Gauges count requests in flight, e.g.
// concurrent manifest PUTs per repository; every forwarded request records its body bytes (so a
// test can count what was uploaded). The harness's CONNECT proxy (proxy.ts) leads the handler to
// it by the registry's real name, passing resets on as resets.
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
import { closeServer, listen } from './handles';

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
  | { kind: 'immutable-tags' }
  /**
   * A token that expires, as a 12-hour ECR token does: requests carrying an Authorization header
   * pass until `afterRequests` of them did; from then on every one gets 401 UNAUTHORIZED (with a
   * Basic challenge) until `renewed()` says the client logged in again (e.g. a new
   * GetAuthorizationToken call was seen), after which they pass. Only refused requests count as
   * hits; `times` does not apply. It fires once.
   */
  | { kind: 'expired-token'; afterRequests: number; renewed: () => boolean };

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
  /** Request body bytes forwarded to the registry (absent when nothing was forwarded). */
  bytesIn?: number;
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
  /** Request body bytes forwarded to the registry for requests matching method(s) + path whose answer was recorded at or after `since` (ms). */
  bytesIn(method: string | string[], path: RegExp, since?: number): number;
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

interface RuleState { rule: FaultRule; hits: number; passed: number; window: number[]; authorized: number; expired: boolean }

interface GaugeState {
  method: string;
  path: RegExp;
  key: (p: string) => string;
  current: number;
  max: number;
  total: number;
  byKey: Map<string, number>;
  maxByKey: Map<string, number>;
}

/** One request on its way through the proxy. */
interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  started: number;
  method: string;
  /** URL path without the query. */
  path: string;
  state?: RuleState;
  /** The fault that applies to this request, if any (decided once, in `decide`). */
  fault?: Fault;
}

function jsonError(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }] });
}

/** Rule matching: which rule a request meets, and whether its fault applies this time. */
class Rules {
  readonly list: RuleState[] = [];

  add(rule: FaultRule): RuleHandle {
    const s: RuleState = { rule, hits: 0, passed: 0, window: [], authorized: 0, expired: false };
    this.list.push(s);
    const list = this.list;
    return {
      rule,
      get hits() { return s.hits; },
      get passed() { return s.passed; },
      remove() { const i = list.indexOf(s); if (i >= 0) list.splice(i, 1); },
    };
  }

  match(method: string, p: string): RuleState | undefined {
    for (const s of this.list) {
      const m = s.rule.method;
      if (m !== undefined && ![m].flat().includes(method)) continue;
      if (!s.rule.path.test(p)) continue;
      // Immutable tags concern manifest PUTs only: other requests go on to the next rule.
      if (s.rule.fault.kind === 'immutable-tags' && method !== 'PUT') continue;
      // These decide per request whether the fault applies (a rate, a body long enough to cut,
      // a tag that exists, a token that expired).
      if (['rate-limit', 'reset-upload', 'immutable-tags', 'expired-token'].includes(s.rule.fault.kind)) return s;
      if (s.rule.times !== undefined && s.hits >= s.rule.times) continue;
      return s;
    }
    return undefined;
  }

  /** The fault this request gets, counting hits; rate limits and token expiry are decided here. */
  decide(state: RuleState | undefined, req: http.IncomingMessage): Fault | undefined {
    const fault = state?.rule.fault;
    if (!state || !fault) return undefined;
    switch (fault.kind) {
      case 'rate-limit': {
        const now = Date.now();
        state.window = state.window.filter(t => now - t < 1000);
        if (state.window.length >= fault.perSecond) {
          state.hits++;
          return { kind: 'status', status: 429, headers: { 'Retry-After': '1' }, body: jsonError('TOOMANYREQUESTS', 'Rate exceeded') };
        }
        state.window.push(now);
        state.passed++;
        return undefined;
      }
      case 'expired-token': {
        if (!req.headers.authorization) return undefined;
        if (!state.expired) {
          if (state.hits > 0 || ++state.authorized <= fault.afterRequests) { state.passed++; return undefined; }
          state.expired = true;
        }
        if (fault.renewed()) {
          // A new login happened since the token expired: from now on it is accepted.
          state.expired = false;
          state.passed++;
          return undefined;
        }
        state.hits++;
        return { kind: 'status', status: 401, headers: { 'WWW-Authenticate': 'Basic realm="basic-realm"' }, body: jsonError('UNAUTHORIZED', 'authentication required') };
      }
      case 'reset-upload':
      case 'immutable-tags':
        // Counted only when they really cut or refuse (see their handlers).
        return fault;
      default:
        state.hits++;
        return fault;
    }
  }
}

/** Requests in flight per gauge. */
class Gauges {
  readonly list: GaugeState[] = [];

  add(method: string, path: RegExp, key: (p: string) => string): Gauge {
    const g: GaugeState = { method, path, key, current: 0, max: 0, total: 0, byKey: new Map(), maxByKey: new Map() };
    this.list.push(g);
    return {
      get current() { return g.current; },
      get max() { return g.max; },
      get total() { return g.total; },
      get maxByKey() { return g.maxByKey; },
      reset() { g.max = g.current; g.total = 0; g.maxByKey.clear(); },
    };
  }

  /** Counts a request forwarded to the registry until its answer closes. */
  enter(x: Exchange): void {
    for (const g of this.list) {
      if (g.method !== x.method || !g.path.test(x.path)) continue;
      const k = g.key(x.path);
      g.current++; g.total++; g.max = Math.max(g.max, g.current);
      const n = (g.byKey.get(k) ?? 0) + 1;
      g.byKey.set(k, n);
      g.maxByKey.set(k, Math.max(g.maxByKey.get(k) ?? 0, n));
      x.res.once('close', () => { g.current--; g.byKey.set(k, (g.byKey.get(k) ?? 1) - 1); });
    }
  }
}

class FaultServer implements FaultProxy {
  port = 0;
  host = '';
  readonly events: ProxyEvent[] = [];
  private readonly rules = new Rules();
  private readonly gauges = new Gauges();
  private readonly agent: https.Agent;
  private readonly secureContext: tls.SecureContext;
  private readonly rawSockets = new Set<net.Socket>();
  private readonly rawOf = new WeakMap<net.Socket, net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  private server?: net.Server;

  constructor(private readonly opts: FaultProxyOptions) {
    this.secureContext = tls.createSecureContext({ cert: fs.readFileSync(opts.certFile), key: fs.readFileSync(opts.keyFile) });
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: fs.readFileSync(opts.caFile) });
  }

  rule(rule: FaultRule): RuleHandle { return this.rules.add(rule); }
  clearRules(): void { this.rules.list.length = 0; }
  gauge(method: string, path: RegExp, key: (p: string) => string = repoOf): Gauge { return this.gauges.add(method, path, key); }

  /** Request body bytes forwarded to the registry for requests matching method + path. */
  bytesIn(method: string | string[], path: RegExp, since = 0): number {
    const ms = [method].flat();
    return this.events.filter(e => e.at >= since && ms.includes(e.method) && path.test(e.path)).reduce((n, e) => n + (e.bytesIn ?? 0), 0);
  }

  async listen(): Promise<void> {
    const httpServer = http.createServer((req, res) => this.handle(req, res));
    httpServer.keepAliveTimeout = 30_000;
    this.server = net.createServer(raw => this.accept(raw, httpServer));
    const listenHost = this.opts.listenHost ?? '127.0.0.1';
    this.port = await listen(this.server, 'fault proxy', 0, listenHost);
    this.host = `${listenHost}:${this.port}`;
  }

  close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.agent.destroy();
    return this.server ? closeServer(this.server, this.rawSockets) : Promise.resolve();
  }

  /** TLS over each raw connection, keeping the raw socket so a fault can reset it for real. */
  private accept(raw: net.Socket, httpServer: http.Server): void {
    this.rawSockets.add(raw);
    raw.on('close', () => this.rawSockets.delete(raw));
    raw.on('error', () => undefined);
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: this.secureContext });
    this.rawOf.set(t, raw);
    t.on('error', () => raw.destroy());
    httpServer.emit('connection', t);
  }

  private record(x: Exchange, status: number, rule?: string, bytesIn?: number): void {
    const ev: ProxyEvent = { at: Date.now(), started: x.started, method: x.method, path: x.path, status, rule, bytesIn };
    this.events.push(ev);
    if (this.opts.logFile) fs.appendFileSync(this.opts.logFile, `${new Date(ev.at).toISOString()} ${ev.method} ${ev.path} ${ev.status}${ev.rule ? ` [${ev.rule}]` : ''}\n`);
  }

  /** A real TCP reset (RST), not a clean close: what a dropped connection looks like. */
  private reset(tlsSocket: net.Socket): void {
    const raw = this.rawOf.get(tlsSocket);
    try {
      if (raw && !raw.destroyed) raw.resetAndDestroy();
    } catch { raw?.destroy(); }
    tlsSocket.destroy();
  }

  private ruleName(x: Exchange): string | undefined {
    return x.fault ? x.state?.rule.name : undefined;
  }

  /** Decides the fault, then answers: by the fault alone, or by forwarding (with the fault on the body). */
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const method = req.method ?? 'GET';
    const p = new URL(req.url ?? '/', 'https://x').pathname;
    const x: Exchange = { req, res, started: Date.now(), method, path: p };
    x.state = this.rules.match(method, p);
    x.fault = this.rules.decide(x.state, req);
    switch (x.fault?.kind) {
      case 'reset': this.record(x, 0, this.ruleName(x)); this.reset(req.socket); return;
      case 'redirect': this.redirect(x, x.fault.query); return;
      case 'status': this.answerStatus(x, x.fault); return;
      case 'immutable-tags': this.immutableTags(x); return;
      case 'reset-upload': this.cutUpload(x, x.fault.afterBytes); return;
      default: this.forward(x, req);
    }
  }

  private redirect(x: Exchange, query: string): void {
    x.req.resume();
    x.res.writeHead(307, { 'Location': `https://${x.req.headers.host}${REDIRECTED}${x.path}?${query}`, 'Content-Length': 0 });
    x.res.end();
    this.record(x, 307, this.ruleName(x));
  }

  private answerStatus(x: Exchange, f: Extract<Fault, { kind: 'status' }>): void {
    x.req.resume();
    x.req.once('end', () => {
      const body = f.body ?? jsonError(f.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', `injected ${f.status}`);
      x.res.writeHead(f.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...f.headers });
      x.res.end(body);
      this.record(x, f.status, this.ruleName(x));
    });
  }

  private upstream(method: string, path: string, headers: http.OutgoingHttpHeaders, onResponse: (r: http.IncomingMessage) => void) {
    return https.request({
      host: '127.0.0.1',
      port: this.opts.upstreamPort(),
      method,
      agent: this.agent,
      ...(this.opts.upstreamName ? { servername: this.opts.upstreamName } : {}),
      path,
      headers,
    }, onResponse);
  }

  /** Sends the request on to the registry, counting its body bytes, and the answer back (through a body fault if one applies). */
  private forward(x: Exchange, reqBody: NodeJS.ReadableStream): void {
    // Gauges count what reaches the registry, not what a fault answered.
    this.gauges.enter(x);
    let bytesIn = 0;
    reqBody.on('data', (c: Buffer) => { bytesIn += c.length; });
    const path = x.path.startsWith(REDIRECTED) ? x.path.slice(REDIRECTED.length) : x.req.url ?? '/';
    const upReq = this.upstream(x.method, path, stripHopByHop(x.req.headers), upRes => {
      const status = upRes.statusCode ?? 502;
      // Faults that alter bodies apply to successful body-carrying answers only (not to a 401
      // challenge or a HEAD), so the client gets as far as reading a blob.
      const f = x.fault && x.method === 'GET' && status >= 200 && status < 300 ? x.fault : undefined;
      x.res.writeHead(status, stripHopByHop(upRes.headers));
      switch (f?.kind) {
        case 'reset-download': this.cutDownload(x, upRes, status, f.afterBytes); break;
        case 'stall': this.stall(x, upRes); break;
        case 'corrupt': this.buffered(upRes, body => this.sendCorrupt(x, status, body)); break;
        case 'trickle': this.buffered(upRes, body => this.trickle(x, status, body, f.bytesPerSecond)); break;
        default:
          upRes.pipe(x.res);
          upRes.once('end', () => this.record(x, status, undefined, bytesIn));
      }
    });
    upReq.on('error', err => {
      this.record(x, 502, `upstream error: ${err.message}`, bytesIn);
      if (!x.res.headersSent) {
        x.res.writeHead(502, { 'Content-Type': 'text/plain' });
        x.res.end('fault proxy: upstream error\n');
      } else {
        x.res.destroy();
      }
    });
    reqBody.pipe(upReq);
  }

  private cutDownload(x: Exchange, upRes: http.IncomingMessage, status: number, limit: number): void {
    let sent = 0;
    upRes.on('data', (c: Buffer) => {
      if (sent >= limit) return;
      const part = c.subarray(0, limit - sent);
      sent += part.length;
      if (sent >= limit) {
        upRes.destroy();
        x.res.write(part, () => { this.record(x, 0, this.ruleName(x)); this.reset(x.req.socket); });
      } else {
        x.res.write(part);
      }
    });
    upRes.once('end', () => {
      // A body shorter than the cut passes whole.
      if (sent < limit) { x.res.end(); this.record(x, status, `${this.ruleName(x)} (body shorter than the cut)`); }
    });
  }

  private stall(x: Exchange, upRes: http.IncomingMessage): void {
    x.res.flushHeaders();
    upRes.destroy();
    this.record(x, 0, this.ruleName(x));
  }

  private buffered(upRes: http.IncomingMessage, then: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    upRes.on('data', (c: Buffer) => chunks.push(c));
    upRes.once('end', () => then(Buffer.concat(chunks)));
  }

  /** Flips every bit of the middle byte: same length, different digest. */
  private sendCorrupt(x: Exchange, status: number, body: Buffer): void {
    if (body.length > 0) body[Math.floor(body.length / 2)] = 255 - body[Math.floor(body.length / 2)];
    x.res.end(body);
    this.record(x, status, this.ruleName(x));
  }

  private trickle(x: Exchange, status: number, body: Buffer, bytesPerSecond: number): void {
    const step = Math.max(1, Math.floor(bytesPerSecond / 10));
    let off = 0;
    const t = setInterval(() => {
      if (x.res.destroyed || this.closing) { clearInterval(t); this.timers.delete(t); return; }
      x.res.write(body.subarray(off, off + step));
      off += step;
      if (off >= body.length) {
        clearInterval(t); this.timers.delete(t);
        x.res.end();
        this.record(x, status, this.ruleName(x));
      }
    }, 100);
    this.timers.add(t);
  }

  /**
   * ECR's immutable tags: the (small) manifest is held back while the registry is asked, with
   * the client's own credentials, whether the tag exists; a 401 (no credentials yet) is left to
   * the registry to answer. A PUT by digest is forwarded as is.
   */
  private immutableTags(x: Exchange): void {
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(x.path);
    if (!m || /^[a-z0-9]+:[a-f0-9]{32,}$/.test(m[2])) {
      x.fault = undefined;
      this.forward(x, x.req);
      return;
    }
    const [, repo, tag] = m;
    const chunks: Buffer[] = [];
    x.req.on('data', (c: Buffer) => chunks.push(c));
    x.req.once('end', () => {
      const headers = { ...(x.req.headers.authorization ? { authorization: x.req.headers.authorization } : {}), accept: IMMUTABLE_ACCEPT, host: x.req.headers.host ?? '' };
      const head = this.upstream('HEAD', `/v2/${repo}/manifests/${tag}`, headers, headRes => {
        headRes.resume();
        if (headRes.statusCode === 200) {
          x.state!.hits++;
          const body = jsonError('TAG_INVALID', `The image tag '${tag}' already exists in the '${repo}' repository and cannot be overwritten because the repository is immutable.`);
          x.res.writeHead(400, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
          x.res.end(body);
          this.record(x, 400, this.ruleName(x));
          return;
        }
        x.fault = undefined;
        const pass = new PassThrough();
        this.forward(x, pass);
        pass.end(Buffer.concat(chunks));
      });
      head.on('error', err => {
        this.record(x, 502, `immutable-tags check failed: ${err.message}`);
        x.res.writeHead(502, { 'Content-Type': 'text/plain' });
        x.res.end('fault proxy: upstream error\n');
      });
      head.end();
    });
  }

  /**
   * The body is held back until `afterBytes` arrived; then, while the rule has hits left, the
   * connection is reset. A body that ends sooner (e.g. a small config blob), or one that arrives
   * once the rule is used up, is forwarded whole and does not count.
   */
  private cutUpload(x: Exchange, afterBytes: number): void {
    const rs = x.state!;
    const chunks: Buffer[] = [];
    let got = 0;
    let decided = false;
    const pass = new PassThrough();
    const passOn = () => {
      x.fault = undefined;
      this.forward(x, pass);
      pass.write(Buffer.concat(chunks));
    };
    const onData = (c: Buffer) => {
      if (decided) return;
      chunks.push(c);
      got += c.length;
      if (got < afterBytes) return;
      decided = true;
      if (rs.rule.times === undefined || rs.hits < rs.rule.times) {
        rs.hits++;
        this.record(x, 0, this.ruleName(x));
        this.reset(x.req.socket);
        return;
      }
      x.req.off('data', onData);
      passOn();
      x.req.pipe(pass);
    };
    x.req.on('data', onData);
    x.req.once('end', () => {
      if (decided) return;
      decided = true;
      passOn();
      pass.end();
    });
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const s = new FaultServer(opts);
  await s.listen();
  return s;
}
