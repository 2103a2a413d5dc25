// Errors the lifecycle API answers with: one HTTP status, a stable machine code and a message
// that says what was wrong and how to fix it. Rendered as { error: { code, message } }.
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const badRequest = (message: string) => new ApiError(400, "BadRequest", message);
export const notFound = (message: string) => new ApiError(404, "NotFound", message);
export const unauthenticated = (message: string) =>
  new ApiError(401, "Unauthorized", message, { "WWW-Authenticate": 'Bearer realm="xtrinode"' });
export const forbidden = (message: string) => new ApiError(403, "Forbidden", message);
export const kubeUnavailable = (message: string) => new ApiError(503, "KubernetesUnavailable", message, { "Retry-After": "5" });

export function errorBody(error: ApiError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}
