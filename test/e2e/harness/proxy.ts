// The one HTTPS_PROXY of the harness (CONNECT only). Each tunnel goes to 127.0.0.1:PORT, where
// PORT comes from, in order: a route added at run time with `route()`, then the `route`
// function the proxy was started with (see `standIns`); a target neither knows is refused with
// 403 and recorded. Once a tunnel is up it is a plain pipe both ways, and a reset on one side is
// passed on as a reset to the other (never as an HTTP answer written into the TLS stream), so
// the handler sees exactly what a fault proxy behind it did. Host names match
// case-insensitively, as DNS names do.
import * as http from 'http';
import * as net from 'net';
import { closeServer, listen } from './handles';
import { ECR_PUBLIC_HOSTS, parseEcrHost } from '../../../src/rules';

export interface ConnectProxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY. */
  readonly url: string;
  /** Every CONNECT target asked for, in order, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com:443`. */
  readonly connects: string[];
  readonly refused: string[];
  /** Sends tunnels to `host:443` to 127.0.0.1:`port` from now on (before any other rule). */
  route(host: string, port: number): void;
  close(): Promise<void>;
}

/** Where a CONNECT target (lower-case host, port) goes on 127.0.0.1, or undefined to refuse it. */
export type Route = (host: string, port: number) => number | undefined;

/** ECR Public's registry host (public.ecr.aws). */
export const PUBLIC_ECR_HOST = ECR_PUBLIC_HOSTS[0];

/** Whether host is an ECR registry of any form the rulebook knows (every partition, FIPS, dual-stack). */
export const isEcrHost = (host: string): boolean => parseEcrHost(host)?.kind === 'private';

/** Hosts served by another host's stand-in when they have none of their own. */
const SAME_AS: Record<string, string> = Object.fromEntries(ECR_PUBLIC_HOSTS.map(h => [h, 'registry-1.docker.io']));

/**
 * The harness's stand-ins: every ECR registry host's :443 (the rulebook's forms: every partition,
 * FIPS, dual-stack) to `ecrPort()`, named
 * hosts (e.g. Docker Hub's registry-1.docker.io) to theirs, ECR Public's where Docker Hub's goes
 * (both are the bearer-token, anonymous-pull kind) unless it has its own, loopback passed
 * through. Ports are asked per tunnel, so a restarted registry or a fault proxy put in front
 * later is followed.
 */
export function standIns(ecrPort: () => number, hostPorts: () => Record<string, number> = () => ({})): Route {
  return (host, port) => {
    const stands = Object.fromEntries(Object.entries(hostPorts()).map(([h, p]) => [h.toLowerCase(), p]));
    const stand = stands[host] ?? (SAME_AS[host] !== undefined ? stands[SAME_AS[host]] : undefined);
    if (isEcrHost(host) && port === 443) return ecrPort();
    if (stand !== undefined && port === 443) return stand;
    if (host === '127.0.0.1' || host === 'localhost') return port;
    return undefined;
  };
}

export async function startConnectProxy(route: Route): Promise<ConnectProxy> {
  const connects: string[] = [];
  const refused: string[] = [];
  const routes = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); };
  const abort = (s: net.Socket) => { try { s.resetAndDestroy(); } catch { s.destroy(); } };

  const server = http.createServer((_req, res) => {
    res.writeHead(405, { 'Content-Type': 'text/plain' });
    res.end('this proxy only tunnels (CONNECT)\n');
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push(target);
    track(client);
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i).toLowerCase();
    const port = Number(target.slice(i + 1));
    const to = routes.has(host) && port === 443 ? routes.get(host) : route(host, port);
    if (to === undefined) {
      refused.push(target);
      client.on('error', () => undefined);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(to, '127.0.0.1');
    track(upstream);
    let established = false;
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
    upstream.on('close', () => { if (established) client.destroy(); });
    client.on('error', () => abort(upstream));
    client.on('close', () => upstream.destroy());
  });
  const port = await listen(server, 'CONNECT proxy');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connects,
    refused,
    route: (host, p) => { routes.set(host.toLowerCase(), p); },
    close: () => closeServer(server, sockets),
  };
}
