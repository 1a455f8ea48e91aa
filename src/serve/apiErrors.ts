import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * An answer other than 200 that a handler decides on: 400 for a bad or unknown parameter (named in
 * `parameter`), 404 for a key the store does not hold. The app's one error handler turns it into
 * `{ error, message, parameter? }`; anything else is a 500 with no detail leaked.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: 'bad_parameter' | 'not_found' | 'unauthorized',
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

export function badParameter(parameter: string, message: string): ApiError {
  return new ApiError(400, 'bad_parameter', `${parameter}: ${message}`, parameter);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, 'not_found', message);
}
