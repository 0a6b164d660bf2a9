// The shim's network thread: k6's HTTP API is synchronous, Node's is not, so the main thread blocks
// on a shared flag while this worker runs fetch() and hands the answer back through a message port.
import { type MessagePort, parentPort } from 'node:worker_threads';

export type WireRequest = {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | { fields: { name: string; value: string; filename?: string; contentType?: string }[] };
  timeoutMs: number;
};

export type WireResponse = {
  status: number;
  headers: [string, string][];
  setCookies: string[];
  body: string;
  durationMs: number;
  error?: string;
};

async function perform(request: WireRequest): Promise<WireResponse> {
  const started = performance.now();
  let body: string | FormData | undefined;
  if (typeof request.body === 'string') body = request.body;
  else if (request.body) {
    const form = new FormData();
    for (const field of request.body.fields) {
      if (field.filename === undefined) form.append(field.name, field.value);
      else form.append(field.name, new Blob([field.value], { type: field.contentType }), field.filename);
    }
    body = form;
  }
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: [...response.headers.entries()],
      setCookies: response.headers.getSetCookie(),
      body: text,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    return {
      status: 0,
      headers: [],
      setCookies: [],
      body: '',
      durationMs: performance.now() - started,
      error: String(error),
    };
  }
}

parentPort!.on('message', async (message: { request: WireRequest; port: MessagePort; flag: Int32Array }) => {
  const answer = await perform(message.request);
  message.port.postMessage(answer);
  Atomics.store(message.flag, 0, 1);
  Atomics.notify(message.flag, 0);
});
