// An HTTPS_PROXY (CONNECT-only) that sends every ECR registry host's :443 tunnel (any form the
// rulebook, src/rules.ts, knows: every partition, FIPS, dual-stack) to the local ECR-style registry, other named hosts (e.g. Docker Hub's registry-1.docker.io) to
// the local registries standing in for them, passes loopback targets through, refuses
// everything else, and records each CONNECT target. Host names match case-insensitively, as
// DNS names do. ECR Public's registry (public.ecr.aws) goes where Docker Hub's goes (both are
// the bearer-token, anonymous-pull kind) unless it is routed elsewhere; `route()` adds or
// overrides a host:443 target at run time.
import * as http from 'http';
import * as net from 'net';
import { ECR_PUBLIC_HOSTS, parseEcrHost } from '../../../src/rules';

export interface ConnectProxy {
  readonly port: number;
  readonly url: string;
  /** Every CONNECT target asked for, in order, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com:443`. */
  readonly connects: string[];
  readonly refused: string[];
  /** Sends tunnels to `host:443` to 127.0.0.1:`port` from now on (before any other rule). */
  route(host: string, port: number): void;
  close(): Promise<void>;
}

/** ECR Public's registry host (public.ecr.aws). */
export const PUBLIC_ECR_HOST = ECR_PUBLIC_HOSTS[0];

/** Hosts served by another host's stand-in when they have none of their own. */
const SAME_AS: Record<string, string> = Object.fromEntries(ECR_PUBLIC_HOSTS.map(h => [h, 'registry-1.docker.io']));

/** Whether host is an ECR registry of any form the rulebook knows; every proxy of the harness routes by this. */
export const isEcrHost = (host: string): boolean => parseEcrHost(host)?.kind === 'private';

export async function startConnectProxy(ecrRegistryPort: () => number, hostPorts: () => Record<string, number> = () => ({})): Promise<ConnectProxy> {
  const connects: string[] = [];
  const refused: string[] = [];
  const routes = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(405, { 'Content-Type': 'text/plain' });
    res.end('this proxy only tunnels (CONNECT)\n');
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i).toLowerCase();
    const port = Number(target.slice(i + 1));
    let to: { host: string; port: number } | undefined;
    const stands = Object.fromEntries(Object.entries(hostPorts()).map(([h, p]) => [h.toLowerCase(), p]));
    const stand = stands[host] ?? (SAME_AS[host] !== undefined ? stands[SAME_AS[host]] : undefined);
    if (routes.has(host) && port === 443) to = { host: '127.0.0.1', port: routes.get(host)! };
    else if (isEcrHost(host) && port === 443) to = { host: '127.0.0.1', port: ecrRegistryPort() };
    else if (stand !== undefined && port === 443) to = { host: '127.0.0.1', port: stand };
    else if (host === '127.0.0.1' || host === 'localhost') to = { host: '127.0.0.1', port };
    if (!to) {
      refused.push(target);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(to.port, to.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connects,
    refused,
    route: (host, p) => { routes.set(host.toLowerCase(), p); },
    close: () => new Promise(r => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
