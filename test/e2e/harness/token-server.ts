// A Docker-Hub-style bearer token service (the distribution "token" auth spec): anonymous
// callers get pull, callers with the right Basic creds get what they ask for, wrong creds
// get 401. Tokens are ES256 JWTs carrying the signing certificate in `x5c`, which the
// registry checks against its `rootcertbundle`.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { closeServer, listen } from './handles';

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** How many tokens were issued, anonymous and authenticated. */
  readonly issued: { anonymous: number; authenticated: number; refused: number };
  /**
   * How long the registry accepts a token from now on, in seconds (default 600). The JWT's
   * `exp` is set so that docker-registry, which adds a fixed 60 s leeway to it
   * (distribution's registry/auth/token Leeway), refuses the token exactly this long after it
   * was issued; `expires_in` tells the client the same lifetime.
   */
  setTtl(seconds: number): void;
  close(): Promise<void>;
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

export async function startTokenServer(opts: {
  keyFile: string; certFile: string; users: Record<string, string>; service?: string; issuer?: string;
}): Promise<TokenServer> {
  const service = opts.service ?? 'e2e-hub';
  const issuer = opts.issuer ?? 'e2e-token-issuer';
  const key = crypto.createPrivateKey(fs.readFileSync(opts.keyFile));
  const certDer = new crypto.X509Certificate(fs.readFileSync(opts.certFile)).raw;
  const issued = { anonymous: 0, authenticated: 0, refused: 0 };
  let ttl = 600;
  const REGISTRY_LEEWAY = 60;

  const sign = (sub: string, access: unknown[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const exp = now + ttl - (ttl < 600 ? REGISTRY_LEEWAY : 0);
    const claims = { iss: issuer, sub, aud: service, exp, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(sig)}`;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let user = '';
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      const decoded = Buffer.from(authz.slice(6), 'base64').toString();
      const i = decoded.indexOf(':');
      const [u, p] = [decoded.slice(0, i), decoded.slice(i + 1)];
      if (opts.users[u] === undefined || opts.users[u] !== p) {
        issued.refused++;
        res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="e2e"' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      user = u;
    }
    const access = url.searchParams.getAll('scope').flatMap(scope => {
      // repository:NAME:ACTIONS (NAME may hold ':' only in the registry-host form, which we don't use)
      const parts = scope.split(':');
      if (parts.length < 3) return [];
      const actions = parts.pop()!.split(',');
      const type = parts.shift()!;
      const name = parts.join(':');
      const granted = user ? actions : actions.filter(a => a === 'pull');
      return [{ type, name, actions: granted }];
    });
    if (user) issued.authenticated++; else issued.anonymous++;
    const token = sign(user, access);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() }));
  });
  const port = await listen(server, 'token server');
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    issued,
    setTtl: (seconds: number) => { ttl = seconds; },
    close: () => closeServer(server),
  };
}
