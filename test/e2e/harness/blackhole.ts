// A TCP server that accepts connections and never answers: the registry that hangs.
// With `tls`, it completes the TLS handshake first (with a certificate the handler trusts)
// and then never sends a byte: the registry that is up but stuck.
import * as fs from 'fs';
import * as net from 'net';
import * as tls from 'tls';
import { closeServer, listen } from './handles';

export interface BlackholeOptions {
  /** Complete TLS with this certificate and key (PEM files), then stay silent. */
  tls?: { cert: string; key: string };
}

export interface Blackhole {
  port: number;
  /** Connections accepted (TCP); with `tls`, handshakes completed. */
  accepted: () => number;
  /** Bytes the clients sent after the handshake (the requests nobody answers). */
  received: () => number;
  close(): Promise<void>;
}

export async function startBlackhole(opts: BlackholeOptions = {}): Promise<Blackhole> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let received = 0;
  const hold = (s: net.Socket) => {
    accepted++;
    sockets.add(s);
    s.on('data', (d: Buffer) => { received += d.length; });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  let server: net.Server;
  if (opts.tls) {
    server = tls.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) }, hold);
    server.on('tlsClientError', () => undefined);
    // Raw sockets too, so close() also ends connections still in the handshake.
    server.on('connection', (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  } else {
    server = net.createServer(hold);
  }
  await listen(server, 'blackhole');
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    received: () => received,
    close: () => closeServer(server, sockets),
  };
}
