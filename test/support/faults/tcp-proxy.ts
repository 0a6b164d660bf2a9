// A TCP proxy in front of a dependency, to make it misbehave on cue: `pass` forwards, `hang` accepts
// connections (new and open ones) and never answers, `refuse` resets every connection.
import { connect, createServer, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'hang' | 'refuse';

export async function startTcpProxy(target: { host: string; port: number }) {
  let mode: ProxyMode = 'pass';
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (mode === 'refuse') return void client.resetAndDestroy();
    if (mode === 'hang') return; // read nothing, answer nothing
    const upstream = connect(target.port, target.host);
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    // While hanging, bytes in either direction are held back (paused), as a stuck peer would.
    client.on('data', (chunk) => (mode === 'hang' ? client.pause() : upstream.write(chunk)));
    upstream.on('data', (chunk) => (mode === 'hang' ? upstream.pause() : client.write(chunk)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    setMode(next: ProxyMode) {
      mode = next;
      if (next === 'refuse') for (const socket of open) socket.resetAndDestroy();
      // Connections that hung have lost bytes: end them; clients reconnect through the live path.
      if (next === 'pass') for (const socket of open) socket.destroy();
    },
    async stop() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
