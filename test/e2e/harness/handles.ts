// Everything the harness opens that must be closed before a suite ends: servers it listens
// with and child processes it starts. Each is registered when opened and forgotten when it has
// really closed (a server's 'close' event, a process's exit). test/e2e/environment.ts reads
// this list once the suite's own afterAll hooks have run, fails the suite when anything is
// still open, naming it, and then closes it (so jest can still exit).
import * as net from 'net';

/** Kept on globalThis: the test environment reads it from outside the module registry. */
const KEY = '__e2eOpenHandles';

/** What is open: its description, and how to force it closed if the suite did not. */
export interface OpenHandle { what: string; close: () => void }

type Registry = Map<object, OpenHandle>;

function registry(): Registry {
  const g = globalThis as unknown as Record<string, Registry | undefined>;
  if (!g[KEY]) g[KEY] = new Map();
  return g[KEY]!;
}

/** Records `handle` as open, described by `what` (shown if it is left open); `close` forces it closed. */
export function opened(handle: object, what: string, close: () => void): void {
  registry().set(handle, { what, close });
}

/** Records `handle` as closed. */
export function closed(handle: object): void {
  registry().delete(handle);
}

/** What is still open, by description. */
export function stillOpen(): string[] {
  return [...registry().values()].map(h => h.what);
}

/**
 * Listens on 127.0.0.1 (a free port unless `port` is given) and records the server as open
 * until its 'close' event, which Node emits only once every connection has ended too.
 */
export async function listen<S extends net.Server>(server: S, what: string, port = 0, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actual = (server.address() as net.AddressInfo).port;
  opened(server, `${what} (server on ${host}:${actual})`, () => {
    (server as net.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close();
  });
  server.once('close', () => closed(server));
  return actual;
}

/** Closes a server: destroys the given sockets (and, for HTTP servers, idle and busy connections) and waits for 'close'. */
export function closeServer(server: net.Server, sockets: Iterable<net.Socket> = []): Promise<void> {
  for (const s of sockets) s.destroy();
  const http = server as net.Server & { closeAllConnections?: () => void };
  http.closeAllConnections?.();
  return new Promise(r => {
    if (!server.listening) { closed(server); r(); return; }
    server.close(() => r());
  });
}
