import { request } from "undici";

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/** One GET through a published loopback port; no retries, no redirects. */
export async function httpGet(url: string, opts: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpResponse> {
  const res = await request(url, {
    method: "GET",
    headers: { "user-agent": "Mozilla/5.0 (django-deploy-testbed)", accept: "text/html,*/*", ...opts.headers },
    headersTimeout: opts.timeoutMs ?? 10_000,
    bodyTimeout: opts.timeoutMs ?? 10_000,
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString("utf8") };
}
