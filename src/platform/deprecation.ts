import type { MiddlewareHandler } from 'hono';

export type Deprecation = {
  /** When the operation was deprecated (RFC 9745 `Deprecation: @<epoch seconds>`). */
  since: Date;
  /** When it stops working (RFC 8594 `Sunset`, an HTTP-date). */
  sunset?: Date;
  /** Human-readable migration notes (`Link: <…>; rel="deprecation"`). */
  link: string;
};

/** The headers every answer of a deprecated operation carries, errors included. */
export function deprecationHeaders(deprecation: Deprecation): Record<string, string> {
  return {
    Deprecation: `@${Math.floor(deprecation.since.getTime() / 1000)}`,
    ...(deprecation.sunset ? { Sunset: deprecation.sunset.toUTCString() } : {}),
    Link: `<${deprecation.link}>; rel="deprecation"; type="text/html"`,
  };
}

export const deprecated = (deprecation: Deprecation): MiddlewareHandler => {
  const headers = Object.entries(deprecationHeaders(deprecation));
  return async (c, next) => {
    await next();
    for (const [name, value] of headers) c.res.headers.set(name, value);
  };
};
