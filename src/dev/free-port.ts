import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now: `preferred` when it is, else one the kernel picks. */
export async function freePort(preferred = 0): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
      });
    });
  return (
    (preferred && (await tryPort(preferred))) ||
    (await tryPort(0)) ||
    Promise.reject(new Error('no free port'))
  );
}
