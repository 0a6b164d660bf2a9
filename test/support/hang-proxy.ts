// A TCP proxy on 127.0.0.1 in front of a real server that can be told to hang: it then keeps accepting
// connections and reading what arrives, but forwards nothing and answers nothing (a store that is up
// at the TCP level and stuck above it).
import { createConnection, createServer, type Socket } from 'node:net';

export type HangProxy = {
  url: string;
  hang(on: boolean): void;
  close(): Promise<void>;
};

export async function startHangProxy(target: string): Promise<HangProxy> {
  const upstream = new URL(target);
  let hanging = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    const remote = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(remote);
    client.on('data', (chunk) => {
      if (!hanging) remote.write(chunk);
    });
    remote.on('data', (chunk) => {
      if (!hanging) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      remote.destroy();
      sockets.delete(client);
      sockets.delete(remote);
    };
    client.on('close', end);
    remote.on('close', end);
    client.on('error', end);
    remote.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hang(on) {
      hanging = on;
      // Bytes swallowed while hanging leave those connections out of step: start afresh.
      if (!on) for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
